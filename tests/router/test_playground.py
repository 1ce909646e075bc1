"""GET /playground in a real headless Chromium (tests/browser.py) against the session's apps: it
types, clicks, waits for the answers and checks the demo models' exact outputs; a screenshot of
each state is saved under the test's tmp dir."""

import pytest
import srt
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.browser import csp_violations, start_chromium
from tests.translation.test_markup_srt import SUBTITLES
from textserve.demo_phrases import MARKED_UP, SUMMARIES, TRANSLATIONS

DOCUMENT, SUMMARY = next(iter(SUMMARIES.items()))
SAMPLE_SENTENCES = ["Hello world!", "Good morning.", "Thank you very much.", "How are you?"]  # playground.js


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    yield driver
    driver.quit()


@pytest.fixture
def page(browser, serve_url, apps, tmp_path):
    """The playground, loaded, its languages listed."""
    csp_violations(browser)  # forget an earlier page's
    browser.get(f"{serve_url}/playground")
    wait_for(browser, lambda d: d.execute_script("return document.getElementById('target-lang').value"))
    yield browser
    browser.save_screenshot(str(tmp_path / "playground.png"))
    assert not csp_violations(browser)  # it works under its Content-Security-Policy


def wait_for(driver, condition, timeout_s: float = 60):
    return WebDriverWait(driver, timeout_s, poll_frequency=0.1).until(condition)


def text_of(driver, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text


def finished(task: str):
    return lambda d: text_of(d, f"{task}-status") in ("done", "failed")


def type_into(driver, element_id: str, text: str) -> None:
    element = driver.find_element(By.ID, element_id)
    element.clear()
    element.send_keys(text)


def test_translates_hello_world_in_the_default_language(page, http, tmp_path):
    assert page.title == "textserve playground"
    listed = http.get("/translate/languages").json()
    names = {language["code"]: language["name"] for language in listed["languages"]}
    sources = Select(page.find_element(By.ID, "source-lang"))
    assert [(o.get_attribute("value"), o.text) for o in sources.options] == [
        ("auto", "detect"),
        *((code, f"{name} ({code})") for code, name in names.items()),
    ]
    assert sources.first_selected_option.get_attribute("value") == listed["default_source_lang"] == "en"
    targets = Select(page.find_element(By.ID, "target-lang"))
    english = next(language for language in listed["languages"] if language["code"] == "en")
    assert [o.get_attribute("value") for o in targets.options] == english["targets"]
    assert targets.first_selected_option.get_attribute("value") == listed["default_target_lang"] == "fr"
    type_into(page, "translate-text", "Hello world!")
    page.find_element(By.ID, "translate-button").click()
    wait_for(page, finished("translate"))
    assert text_of(page, "translate-output") == "Bonjour le monde !"
    assert text_of(page, "translate-model") == "answered by demo:demo-translation"
    banner = page.find_element(By.ID, "demo-banner")
    assert banner.is_displayed() and banner.text.startswith("Demo mode: demo:demo-translation answers.")
    assert not page.find_element(By.ID, "translate-error").is_displayed()
    page.save_screenshot(str(tmp_path / "hello-world.png"))
    assert (tmp_path / "hello-world.png").stat().st_size > 10_000


def test_the_targets_follow_the_source_language(page, http):
    sources = Select(page.find_element(By.ID, "source-lang"))
    assert sources.options[0].get_attribute("value") == "auto" and sources.options[0].text == "detect"
    sources.select_by_value("de")
    german = next(
        language
        for language in http.get("/translate/languages").json()["languages"]
        if language["code"] == "de"
    )
    targets = Select(page.find_element(By.ID, "target-lang"))
    assert [o.get_attribute("value") for o in targets.options] == german["targets"]
    targets.select_by_value("en")
    type_into(page, "translate-text", "Hallo Welt!")
    page.find_element(By.ID, "translate-button").click()
    wait_for(page, finished("translate"))
    assert text_of(page, "translate-output") == "Hello world!"
    assert text_of(page, "translate-model") == "answered by demo:demo-marian-de-en"
    sources.select_by_value("auto")  # every target; the answer says what was detected
    assert "ro" in [o.get_attribute("value") for o in targets.options]
    Select(page.find_element(By.ID, "target-lang")).select_by_value("en")
    type_into(page, "translate-text", "Merci beaucoup.")
    page.find_element(By.ID, "translate-button").click()
    wait_for(page, finished("translate"))
    assert text_of(page, "translate-output") == "Thank you very much."
    assert text_of(page, "translate-model").startswith(
        "answered by demo:demo-marian-fr-en (detected fr, confidence 0."
    )


def test_html_comes_back_as_markup_shown_as_text(page):
    html, by_lang = next(iter(MARKED_UP.items()))
    Select(page.find_element(By.ID, "translate-format")).select_by_value("html")
    stream = page.find_element(By.ID, "translate-stream")
    assert not stream.is_enabled() and not stream.is_selected()  # the API streams plain text only
    Select(page.find_element(By.ID, "target-lang")).select_by_value("de")
    type_into(page, "translate-text", html)
    page.find_element(By.ID, "translate-button").click()
    wait_for(page, finished("translate"))
    assert text_of(page, "translate-output") == by_lang["de"]  # the tags as text, not rendered
    assert page.find_elements(By.CSS_SELECTOR, "#translate-output b") == []


def test_a_document_comes_back_to_download_in_its_type(page, tmp_path):
    subtitles = tmp_path / "talk.srt"
    subtitles.write_text(SUBTITLES, encoding="utf-8")
    page.find_element(By.ID, "translate-file").send_keys(str(subtitles))
    page.find_element(By.ID, "translate-button").click()
    wait_for(page, finished("translate"))
    assert text_of(page, "translate-status") == "done", text_of(page, "translate-error")
    link = page.find_element(By.ID, "translate-download")
    assert link.get_attribute("download") == "talk.fr.srt" and link.get_attribute("href").startswith("blob:")
    translated = page.find_element(By.ID, "translate-output").get_attribute("textContent")
    assert [cue.start for cue in srt.parse(translated)] == [cue.start for cue in srt.parse(SUBTITLES)]
    assert "Bonjour le monde !\n<i>Bonjour.</i>" in translated
    assert page.find_element(By.ID, "translate-file").get_attribute("accept").endswith(".srt,.docx")


def test_a_long_text_streams_with_its_progress(page):
    Select(page.find_element(By.ID, "target-lang")).select_by_value("de")
    page.find_element(By.ID, "long-sample").click()
    assert page.find_element(By.ID, "translate-stream").is_selected()
    page.find_element(By.ID, "translate-button").click()
    progress = page.find_element(By.ID, "translate-progress")
    # sentences appear as they are translated: the bar shows up before the answer is whole
    wait_for(page, lambda d: progress.is_displayed())
    wait_for(page, finished("translate"))
    expected = " ".join([TRANSLATIONS[sentence]["de"] for sentence in SAMPLE_SENTENCES] * 10)
    assert text_of(page, "translate-output") == expected
    assert progress.get_attribute("max") == "40" and progress.get_attribute("value") == "40"
    assert text_of(page, "translate-model") == "answered by demo:demo-translation"


def test_summarizes_with_a_length(page):
    type_into(page, "summarize-text", DOCUMENT)
    type_into(page, "max-length", "30")
    page.find_element(By.ID, "summarize-stream").click()
    page.find_element(By.ID, "summarize-button").click()
    wait_for(page, finished("summarize"))
    assert text_of(page, "summarize-output") == SUMMARY
    assert text_of(page, "summarize-model") == "answered by demo:demo-bart-summarization"


def test_errors_show_the_apis_message(page):
    type_into(page, "translate-text", "   ")
    page.find_element(By.ID, "translate-button").click()
    wait_for(page, finished("translate"))
    error = page.find_element(By.ID, "translate-error")
    assert error.is_displayed()
    assert error.text.startswith(
        "422: invalid request: text: text is empty: send the English text to work on"
    )
    assert text_of(page, "translate-output") == ""
    type_into(page, "summarize-text", DOCUMENT)
    type_into(page, "max-length", "100000")
    page.find_element(By.ID, "summarize-button").click()
    wait_for(page, finished("summarize"))
    assert "max_length 100000 is above this service's limit" in text_of(page, "summarize-error")


def test_the_page_fetches_nothing_from_outside(page, serve_url):
    resources = page.execute_script(
        "return performance.getEntriesByType('resource').map((entry) => entry.name)"
    )
    assert resources, "the page loaded no script or style"
    assert all(url.startswith(serve_url) for url in resources), resources


def test_the_docs_page_lists_every_app_and_links_the_playground(browser, serve_url, apps, tmp_path):
    browser.get(f"{serve_url}/docs")
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock-summary-path"))
    paths = {
        e.text.replace("\u200b", "") for e in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
    }
    assert {"/", "/healthz", "/translate", "/translate/languages", "/summarize"} <= paths
    assert {"/hf/translation", "/hf/summarization"} <= paths
    link = browser.find_element(By.LINK_TEXT, "Try them in the playground")
    assert link.get_attribute("href") == f"{serve_url}/playground"
    browser.save_screenshot(str(tmp_path / "docs.png"))


def test_the_pages_work_under_their_content_security_policy(browser, serve_url, apps, http):
    """/docs and /redoc render the merged document with nothing refused by their policy (which
    allows their own inline scripts by hash, nothing else inline, no other origin), and say so."""
    csp_violations(browser)
    browser.get(f"{serve_url}/redoc")
    wait_for(browser, lambda d: "/hf/translation" in d.find_element(By.TAG_NAME, "body").text)
    # the one thing refused: ReDoc's "API docs by Redocly" logo, an image on Redocly's CDN (which
    # a closed network could not reach either); the page works without it
    refused = [v for v in csp_violations(browser) if "https://cdn.redoc.ly/" not in v]
    browser.get(f"{serve_url}/docs")
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock-summary-path"))
    assert not refused + csp_violations(browser)
    for path in ("/docs", "/redoc", "/playground", "/translate/docs"):
        headers = http.get(path).headers
        policy = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy, path
        assert "'unsafe-inline'" not in policy.split("script-src", 1)[1], path
        assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"


def test_only_asset_files_are_served_as_static(http):
    script = http.get("/static/playground/playground.js")
    assert script.status_code == 200 and script.headers["x-content-type-options"] == "nosniff"
    assert http.get("/static/docs/swagger-ui.css").status_code == 200
    refused = ("/static/playground/__init__.py", "/static/playground/index.html", "/static/docs/x.py")
    for path in refused:
        assert http.get(path).status_code == 404, path
