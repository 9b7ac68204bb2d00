"""The embedded signing key: one key, however many processes start at once."""

from __future__ import annotations

import concurrent.futures
import stat

from rill.auth.keys import load_or_create_secret


def test_processes_racing_to_create_the_key_all_read_the_same_one(tmp_path):
    with concurrent.futures.ProcessPoolExecutor(4) as pool:
        keys = set(pool.map(load_or_create_secret, [tmp_path] * 12))
    assert len(keys) == 1 and len(keys.pop()) >= 48
    assert stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret.key"]


def test_the_key_survives_a_restart(tmp_path):
    assert load_or_create_secret(tmp_path) == load_or_create_secret(tmp_path)
