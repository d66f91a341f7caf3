"""The re-seal of every registered sealed column, on SQLite and PostgreSQL: what a rotation
does under ``tokenward keys rotate``, here in process against the app's own key ring."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.helpers import ROOT_HEADERS
from tokenward import keys
from tokenward.app import create_app, open_engine
from tokenward.service import sealing
from tokenward.settings import Settings
from tokenward.store.unit_of_work import SqlUnitOfWorkFactory


def _create(client: TestClient, name: str) -> tuple[int, str]:
    made = client.post(
        "/v1/tenants/default/tokens",
        json={"name": name, "recoverable": True},
        headers=ROOT_HEADERS,
    )
    assert made.status_code == 201, made.text
    return int(made.json()["id"]), str(made.json()["secret"])


def _revealed(client: TestClient, token_id: int) -> str:
    shown = client.get(f"/v1/tenants/default/tokens/{token_id}/secret", headers=ROOT_HEADERS)
    assert shown.status_code == 200, shown.text
    return str(shown.json()["secret"])


def test_reseal_moves_every_secret_to_the_new_key_and_the_app_follows(
    settings: Settings,
) -> None:
    data: Path = settings.data_dir
    with TestClient(create_app(settings)) as client:
        made = dict(_create(client, f"t{n}") for n in range(7))
        # One more, unrecoverable: nothing sealed, nothing to re-seal.
        client.post("/v1/tenants/default/tokens", json={"name": "plain"}, headers=ROOT_HEADERS)
        engine = open_engine(settings)
        try:
            uow = SqlUnitOfWorkFactory(engine)
            with uow() as reading:
                assert set(reading.sealed.samples()) == {sealing.LEGACY}
            ring = keys.sealer_for_store(
                uow, secret_key=settings.secret_key, data_dir=settings.data_dir
            )
            new = keys.add_key(data)
            ring.reload()
            assert ring.active_key_id == new
            report = sealing.reseal(uow, ring, batch_size=3)
            assert report.resealed == 7 + 1  # and the signing key the app made at start
            assert report.passes == 2  # the second pass finds nothing left
            with uow() as reading:
                assert set(reading.sealed.samples()) == {new}
                column = "tokens.sealed_secret"
                for other in reading.sealed.columns():
                    found = reading.sealed.not_sealed_under(
                        other, sealing.header_of(new), after=None, limit=10
                    )
                    assert found == [], other
                assert (
                    reading.sealed.not_sealed_under(
                        column, sealing.header_of(new), after=None, limit=10
                    )
                    == []
                )
                some_id, bound, blob = reading.sealed.not_sealed_under(
                    column, b"\x01", after=None, limit=1
                )[0]
            with uow(write=True) as writing:
                # A row whose blob changed since it was read is not overwritten.
                assert writing.sealed.replace(column, [(some_id, b"stale", b"x" * 40)]) == 0
                writing.commit()
            assert sealing.key_id_of(blob) == new
            assert ring.open(blob, bound_to=bound) in made.values()
        finally:
            engine.dispose()
        assert keys.retire(data, sealing.LEGACY) is not None
        (data / "keys" / "retired").rename(data.parent / "elsewhere")
        # The running app never had the new key: it loads it from the blob that names it.
        for token_id, secret in made.items():
            assert _revealed(client, token_id) == secret
        later_id, later = _create(client, "later")
        assert _revealed(client, later_id) == later
    with TestClient(create_app(settings)) as restarted:
        assert _revealed(restarted, later_id) == later


def test_a_key_from_the_environment_is_the_legacy_key_until_rotated_away(
    settings: Settings,
) -> None:
    with_env = settings.model_copy(update={"secret_key": "an-operator-chosen-key-0123456789abcdef"})
    with TestClient(create_app(with_env)) as client:
        token_id, secret = _create(client, "env")
    assert not (settings.data_dir / keys.KEY_FILE_NAME).exists()
    engine = open_engine(with_env)
    try:
        uow = SqlUnitOfWorkFactory(engine)
        ring = keys.sealer_for_store(
            uow, secret_key=with_env.secret_key, data_dir=with_env.data_dir
        )
        keys.add_key(with_env.data_dir)
        ring.reload()
        assert sealing.reseal(uow, ring).resealed == 1 + 1  # the token, the app's signing key
        assert keys.retire(with_env.data_dir, sealing.LEGACY) is None  # not a file: unset it
    finally:
        engine.dispose()
    # Unset: the ring file alone opens everything, and no new legacy key file is made.
    with TestClient(create_app(settings)) as client:
        assert _revealed(client, token_id) == secret
    assert not (settings.data_dir / keys.KEY_FILE_NAME).exists()
