import httpx

from support.inprocess import AppClient
from support.server import LiveServer


def test_client(client: AppClient) -> None:
    me = client.get("/v1/whoami")
    assert me.status_code == 200, me.text
    assert me.json()["project_id"] == client.project.project_id
    assert client.anonymous.get("/v1/whoami").status_code == 401
    other = client.new_project("other")
    assert client.as_project(other).get("/v1/whoami").json()["name"] == "other"
    print(me.json()["dialect"], client.db_url)


def test_server(server: LiveServer) -> None:
    me = httpx.get(f"{server.base_url}/v1/whoami", headers=server.headers)
    assert me.json()["project_id"] == server.project_id
    creds = server.new_project("second")
    h = {"X-App-Id": creds["app_id"], "X-App-Token": creds["app_token"]}
    assert httpx.get(f"{server.base_url}/v1/whoami", headers=h).json()["name"] == "second"
    print(me.json()["dialect"], server.db_url)


def test_live_a(live_server: LiveServer) -> None:
    with live_server.client() as http:
        assert http.get("/v1/whoami").status_code == 200


def test_live_b(live_server: LiveServer) -> None:
    with live_server.client() as http:
        assert http.get("/v1/whoami").json()["dialect"] in ("sqlite", "postgresql")


def test_failure_report(live_server: LiveServer) -> None:
    raise AssertionError("deliberate, to see the server log section")
