"""Transport settings: defaults, parsing, and a gateway that refuses to start on bad values."""

from __future__ import annotations

import pytest

from cli import main
from edge.gateway_settings import Settings, SettingsError
from edge.settings import TransportSettings

SECRET = "edge-secret-" + "s" * 40


def test_defaults() -> None:
    settings = Settings.from_env({"TSP_JWT_SECRET": SECRET}).transport
    assert settings == TransportSettings(
        max_body_bytes=1024 * 1024,
        body_timeout_seconds=5.0,
        request_timeout_seconds=10.0,
        max_in_flight=256,
        cors_origins=(),
        keepalive_timeout_seconds=75.0,
        header_timeout_seconds=10.0,
        max_connections_per_client=128,
        max_header_bytes=32 * 1024,
        max_headers=100,
    )


def test_values_are_read() -> None:
    settings = Settings.from_env(
        {
            "TSP_JWT_SECRET": SECRET,
            "TSP_MAX_BODY_BYTES": "2048",
            "TSP_BODY_TIMEOUT_SECONDS": "2.5",
            "TSP_REQUEST_TIMEOUT_SECONDS": "30",
            "TSP_MAX_IN_FLIGHT": "1",
            "TSP_CORS_ORIGINS": " http://localhost:5173 ,https://app.example.com:8443,",
            "TSP_KEEPALIVE_TIMEOUT_SECONDS": "120",
            "TSP_HEADER_TIMEOUT_SECONDS": "3",
            "TSP_MAX_CONNECTIONS_PER_CLIENT": "0",
            "TSP_MAX_HEADER_BYTES": "8192",
            "TSP_MAX_HEADERS": "50",
        }
    ).transport
    assert settings == TransportSettings(
        max_body_bytes=2048,
        body_timeout_seconds=2.5,
        request_timeout_seconds=30.0,
        max_in_flight=1,
        cors_origins=("http://localhost:5173", "https://app.example.com:8443"),
        keepalive_timeout_seconds=120.0,
        header_timeout_seconds=3.0,
        max_connections_per_client=0,
        max_header_bytes=8192,
        max_headers=50,
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("TSP_MAX_BODY_BYTES", "lots", "whole number of at least 1"),
        ("TSP_MAX_BODY_BYTES", "-1", "whole number of at least 1"),
        ("TSP_MAX_BODY_BYTES", "0", "whole number of at least 1"),
        ("TSP_MAX_BODY_BYTES", "1.5", "whole number of at least 1"),
        ("TSP_MAX_IN_FLIGHT", "-256", "whole number of at least 1"),
        ("TSP_MAX_IN_FLIGHT", "ten", "whole number of at least 1"),
        ("TSP_REQUEST_TIMEOUT_SECONDS", "soon", "number of seconds greater than 0"),
        ("TSP_REQUEST_TIMEOUT_SECONDS", "-1", "number of seconds greater than 0"),
        ("TSP_REQUEST_TIMEOUT_SECONDS", "0", "number of seconds greater than 0"),
        ("TSP_REQUEST_TIMEOUT_SECONDS", "nan", "number of seconds greater than 0"),
        ("TSP_REQUEST_TIMEOUT_SECONDS", "inf", "number of seconds greater than 0"),
        ("TSP_BODY_TIMEOUT_SECONDS", "-0.5", "number of seconds greater than 0"),
        ("TSP_KEEPALIVE_TIMEOUT_SECONDS", "forever", "number of seconds greater than 0"),
        ("TSP_HEADER_TIMEOUT_SECONDS", "0", "number of seconds greater than 0"),
        ("TSP_MAX_CONNECTIONS_PER_CLIENT", "-1", "whole number of at least 0"),
        ("TSP_MAX_HEADER_BYTES", "1023", "whole number of at least 1024"),
        ("TSP_MAX_HEADER_BYTES", "32k", "whole number of at least 1024"),
        ("TSP_MAX_HEADERS", "15", "whole number of at least 16"),
        ("TSP_CORS_ORIGINS", "localhost:5173", "must list origins"),
        ("TSP_CORS_ORIGINS", "https://app.example.com/", "must list origins"),
        ("TSP_CORS_ORIGINS", "https://app.example.com/path", "must list origins"),
        ("TSP_CORS_ORIGINS", "ftp://files.example.com", "must list origins"),
        ("TSP_CORS_ORIGINS", "http://localhost:port", "must list origins"),
    ],
)
def test_bad_values_refuse_to_start(
    name: str, value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SettingsError, match=message) as raised:
        Settings.from_env({"TSP_JWT_SECRET": SECRET, name: value})
    assert name in str(raised.value)
    assert repr(value) in str(raised.value)


def test_serve_refuses_bad_settings_before_starting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TSP_JWT_SECRET", SECRET)
    monkeypatch.setenv("TSP_REQUEST_TIMEOUT_SECONDS", "-3")
    assert main(["serve", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "TSP_REQUEST_TIMEOUT_SECONDS must be a number of seconds greater than 0" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("workers", ["0", "-2", "two"])
def test_serve_refuses_a_bad_worker_count(
    workers: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TSP_JWT_SECRET", SECRET)
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--workers", workers])
    assert exited.value.code == 2
    assert "--workers: must be a whole number of at least 1" in capsys.readouterr().err
