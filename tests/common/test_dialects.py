"""A dialect's key check (apps/common/dialects.py) without Ray: the key from the body or the
header, 400 without one, 403 for a wrong one, 500 (never open) when the key store is unreadable.
Over HTTP: tests/router/test_libretranslate.py and tests/common/test_api_keys.py."""

import pytest

from apps.common.auth import ApiKeys
from apps.common.dialects import KeyRefusedError, MissingKeyError, check_key
from apps.common.errors import ServingError
from apps.common.tenants import tenant_of

KEYS = ApiKeys.from_env({"TEXTSERVE_API_KEYS": "alpha,beta"})


def test_the_key_comes_from_the_body_or_the_header():
    assert check_key(KEYS, "alpha", None) == tenant_of("alpha")
    assert check_key(KEYS, None, "Bearer beta") == tenant_of("beta")
    assert check_key(KEYS, "alpha", "Bearer wrong") == tenant_of("alpha")  # the body's first


def test_no_key_is_400_and_a_wrong_one_403():
    with pytest.raises(MissingKeyError, match="missing API key") as missing:
        check_key(KEYS, None, None)
    assert missing.value.status_code == 400
    with pytest.raises(KeyRefusedError, match="not accepted") as wrong:
        check_key(KEYS, "gamma", None)
    assert wrong.value.status_code == 403


def test_keys_off_means_no_check_and_an_unreadable_store_refuses(tmp_path):
    assert check_key(ApiKeys.from_env({}), None, None) is None
    broken = ApiKeys.from_env({"TEXTSERVE_API_KEYS_FILE": str(tmp_path / "missing")})
    with pytest.raises(ServingError, match="cannot check API keys") as refused:
        check_key(broken, "alpha", None)
    assert refused.value.status_code == 500
