"""bench/client_cost.py: CPU per request of the bench's load client and of httpx's, measured
against a real server process."""

from bench import client_cost


def test_both_clients_are_measured_on_the_same_answers(capsys):
    assert client_cost.main(["--requests", "200"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["http.client", "httpx", "httpx / http.client"]
    costs = client_cost.measure(100)
    assert set(costs) == {"http.client", "httpx"} and all(0 < seconds < 0.1 for seconds in costs.values())
