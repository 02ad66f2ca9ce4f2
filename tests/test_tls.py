"""Encryption in transit: the loader, the CLI and dbt reach a server that accepts verified TLS only.

The server is Debian's PostgreSQL (the embedded pgserver wheel is built without OpenSSL), started
on 127.0.0.1 with a certificate for ``localhost`` signed by a CA made here, and a pg_hba.conf of
``hostssl`` lines only, with client-certificate authentication. The clients get nothing but the
libpq variables: PGSSLMODE=verify-full, PGSSLROOTCERT, PGSSLCERT and PGSSLKEY.
"""

from __future__ import annotations

import csv
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from warehouse import postgres
from warehouse.cli import main
from warehouse.dbt import run_dbt
from warehouse.ingest.loader import load_paths
from warehouse.ingest.migrations import apply_migrations

DEBIAN_POSTGRES = Path("/usr/lib/postgresql")
SERVER_USER = "postgres"  # the account the server runs as when the tests run as root
ORG_A = "11111111-1111-4111-8111-111111111111"
ORG_B = "11111111-1111-4111-8111-111111111112"

# This connection's own TLS state, as the server sees it.
OWN_TLS = """
select activity.usename, stat_ssl.ssl, stat_ssl.client_dn
from pg_stat_ssl as stat_ssl
join pg_stat_activity as activity on activity.pid = stat_ssl.pid
where activity.pid = pg_backend_pid()
"""


@dataclass(frozen=True)
class TlsServer:
    port: int
    ca: Path
    other_ca: Path
    client_cert: Path
    client_key: Path


def debian_postgres_bin() -> Path:
    """PG_BIN, else the newest /usr/lib/postgresql/<version>/bin (as in
    scripts/with-debian-postgres.sh); a failure that says what to install when there is none."""
    configured = os.environ.get("PG_BIN")
    candidates = (
        [Path(configured)]
        if configured
        else sorted(
            DEBIAN_POSTGRES.glob("*/bin"),
            key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
            reverse=True,
        )
    )
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    pytest.fail(
        f"no PostgreSQL server binaries (initdb, pg_ctl) in {configured or DEBIAN_POSTGRES}: "
        "install Debian's server (apt-get install -y postgresql) or set PG_BIN to a bin "
        "directory holding initdb and pg_ctl"
    )


def openssl(*args: str | Path) -> None:
    if shutil.which("openssl") is None:
        pytest.fail("openssl not found: install it (apt-get install -y openssl)")
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed CA certificate and its key."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", cert, "-days", "1", "-subj", f"/CN={name}",
    )  # fmt: skip
    return cert, key


def issue(directory: Path, ca: tuple[Path, Path], name: str, subject: str, ext: str) -> Path:
    """A certificate for ``subject`` signed by ``ca``; its key is ``<name>.key`` (mode 0600)."""
    key, request, cert = (directory / f"{name}.{suffix}" for suffix in ("key", "csr", "crt"))
    extensions = directory / f"{name}.ext"
    extensions.write_text(ext + "\n", encoding="utf-8")
    openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", request, "-subj", subject,
    )  # fmt: skip
    openssl(
        "x509", "-req", "-in", request, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
        "-out", cert, "-days", "1", "-extfile", extensions,
    )  # fmt: skip
    key.chmod(0o600)  # libpq and the server refuse a key that others can read
    return cert


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def tls_server() -> Iterator[TlsServer]:
    """A PostgreSQL that accepts TLS with a client certificate only, on 127.0.0.1; stopped and
    removed at the end."""
    pg_bin = debian_postgres_bin()
    run_as: list[str] = []
    # A directory of its own rather than tmp_path: when the tests run as root, the server runs as
    # the postgres account (initdb refuses root), which cannot enter pytest's 0700 directories.
    work = Path(tempfile.mkdtemp(prefix="warehouse-tls-"))
    work.chmod(0o755)
    data = work / "data"
    data.mkdir(mode=0o700)
    try:
        ca = make_ca(work, "warehouse-test-ca")
        other_ca, _ = make_ca(work, "another-ca")
        server_cert = issue(work, ca, "server", "/CN=localhost", "subjectAltName=DNS:localhost")
        client_cert = issue(work, ca, "client", f"/CN={SERVER_USER}", "extendedKeyUsage=clientAuth")
        if os.geteuid() == 0:
            account = pwd.getpwnam(SERVER_USER)
            for path in (data, work / "server.key"):
                os.chown(path, account.pw_uid, account.pw_gid)
            run_as = ["runuser", "-u", SERVER_USER, "--"]
        subprocess.run(
            [*run_as, pg_bin / "initdb", "-D", data, "-U", SERVER_USER, "--auth=trust"],
            check=True,
            capture_output=True,
        )
        port = free_port()
        with open(data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {port}\n"
                "unix_socket_directories = ''\n"
                f"ssl = on\nssl_cert_file = '{server_cert}'\n"
                f"ssl_key_file = '{work / 'server.key'}'\nssl_ca_file = '{ca[0]}'\n"
            )
        # TLS only: no host or local lines; the client certificate's CN is the user name.
        (data / "pg_hba.conf").write_text("hostssl all all 127.0.0.1/32 cert\n", encoding="utf-8")
        started = subprocess.run(
            [*run_as, pg_bin / "pg_ctl", "-D", data, "-l", data / "server.log", "-w", "start"],
            capture_output=True,
            text=True,
        )
        if started.returncode != 0:
            log = (data / "server.log").read_text(encoding="utf-8", errors="replace")
            pytest.fail(f"the TLS test server did not start:\n{started.stderr}\n{log}")
        yield TlsServer(port, ca[0], other_ca, client_cert, work / "client.key")
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [*run_as, pg_bin / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop"],
                capture_output=True,
            )
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def over_tls(tls_server: TlsServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> TlsServer:
    """The libpq variables of a production client: verify-full against the test CA."""
    for name, value in {
        "PGHOST": "localhost",
        "PGPORT": str(tls_server.port),
        "PGUSER": SERVER_USER,
        "PGDATABASE": "warehouse",
        "PGSSLMODE": "verify-full",
        "PGSSLROOTCERT": str(tls_server.ca),
        "PGSSLCERT": str(tls_server.client_cert),
        "PGSSLKEY": str(tls_server.client_key),
        "DBT_TARGET_PATH": str(tmp_path / "dbt-target"),
        "DBT_LOG_PATH": str(tmp_path / "dbt-logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    return tls_server


def test_loader_cli_and_dbt_work_over_verified_tls(over_tls, tmp_path, capsys):
    conn = postgres.up()  # creates database warehouse, over TLS like everything below
    assert conn.describe() == f"postgres@localhost:{over_tls.port}/warehouse (sslmode=verify-full)"

    landing = tmp_path / "organizations.csv"
    with open(landing, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "name", "pricing_tier", "created_at"])
        writer.writerow([ORG_A, "Acme", "Enterprise", "2026-01-05T09:00:00Z"])
        writer.writerow([ORG_B, "Globex", "startup", "2026-02-01T10:30:00Z"])
    with postgres.connect(autocommit=True) as connection:
        apply_migrations(connection)
        [result] = load_paths(connection, [landing])
        own_tls = connection.execute(OWN_TLS).fetchone()
    assert (result.status, result.rows_loaded, result.rows_rejected) == ("loaded", 2, 0)
    assert own_tls == ("postgres", True, "/CN=postgres")

    assert main(["db", "status"]) == 0
    assert "answers (PostgreSQL" in capsys.readouterr().out

    run_dbt(["run", "--select", "stg_platform__organizations"])
    shown = run_dbt(["show", "--inline", OWN_TLS, "--limit", "1"])
    [dbt_tls] = [tuple(row) for row in shown.result.results[0].agate_table.rows]
    assert dbt_tls == ("postgres", True, "/CN=postgres")

    with postgres.connect() as connection:
        staged = connection.execute(
            "select organization_id::text, organization_name, pricing_tier "
            "from staging.stg_platform__organizations order by organization_id"
        ).fetchall()
    assert staged == [(ORG_A, "Acme", "enterprise"), (ORG_B, "Globex", "startup")]


def test_a_server_certificate_from_another_ca_is_refused_with_a_hint(over_tls, monkeypatch, capsys):
    monkeypatch.setenv("PGDATABASE", "postgres")  # there on every server
    assert run_dbt(["debug", "--connection"], check=False).success  # the right CA: dbt connects

    monkeypatch.setenv("PGSSLROOTCERT", str(over_tls.other_ca))

    with pytest.raises(psycopg.OperationalError) as refused, postgres.connect():
        pass
    message = str(refused.value)
    assert "certificate verify failed" in message
    assert (
        f"hint: TLS failed with PGSSLMODE=verify-full, PGSSLROOTCERT={over_tls.other_ca}: "
        "PGSSLROOTCERT must be the CA certificate that signed the server's certificate"
    ) in message

    assert main(["db", "status"]) == 1
    out = capsys.readouterr().out
    assert "does not answer" in out
    assert "certificate verify failed" in out
    assert f"PGSSLROOTCERT={over_tls.other_ca}" in out

    assert not run_dbt(["debug", "--connection"], check=False).success

    monkeypatch.setenv("PGSSLMODE", "disable")  # no TLS at all: pg_hba.conf has no line for it
    assert main(["db", "status"]) == 1
    assert (
        "hint: the server takes no unencrypted connection from here (PGSSLMODE=disable); "
        "if it accepts TLS only (hostssl), set PGSSLMODE=verify-full"
    ) in capsys.readouterr().out
