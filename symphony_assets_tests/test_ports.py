"""Port extraction from Python and config files, and conflict detection across components/machines."""

from __future__ import annotations

import ast
import textwrap

from symphony_assets.analysis import pysource
from symphony_assets.analysis.ports.config_values import is_port_key
from symphony_assets.analysis.ports.conflicts import SiteWithContext, find_conflicts
from symphony_assets.analysis.ports.extract import extract_ports
from symphony_assets.analysis.ports.sites import PortSite, file_format


def py(code: str) -> list[PortSite]:
    return extract_ports("svc/agent.py", textwrap.dedent(code).encode())


def by_line(sites: list[PortSite]) -> dict[int, PortSite]:
    out: dict[int, PortSite] = {}
    for site in sites:
        assert site.line not in out, f"two sites on line {site.line}: {sites}"
        out[site.line] = site
    return out


def test_file_format_from_path_only() -> None:
    assert file_format("a/b.py") == "python"
    assert file_format("deploy/docker-compose.yml") == "yaml"
    assert file_format("conf/app.toml") == "toml"
    assert file_format("x.json") == "json"
    assert file_format(".env") == "env"
    assert file_format("deploy/.env.production") == "env"
    assert file_format("README.md") is None
    assert extract_ports("README.md", b"tcp://*:5555") == []


def test_zmq_bind_connect_literals_and_socket_types() -> None:
    sites = by_line(
        py(
            """\
            import zmq
            ctx = zmq.Context()
            pub = ctx.socket(zmq.PUB)
            pub.bind("tcp://*:5556")
            sub = ctx.socket(zmq.SUB)
            sub.connect("tcp://10.0.0.5:5557")
            """
        )
    )
    assert sites[4].role == "bind" and sites[4].port == 5556 and sites[4].host == "*"
    assert sites[4].socket_type == "PUB" and sites[4].resolved and sites[4].via == "ast"
    assert sites[6].role == "connect" and sites[6].port == 5557 and sites[6].host == "10.0.0.5"
    assert sites[6].socket_type == "SUB"


def test_port_from_module_constant_with_constant_folding() -> None:
    sites = by_line(
        py(
            """\
            import zmq
            BASE = 5550
            PUB_PORT = BASE + 3
            ENDPOINT = "tcp://*:%d" % (BASE * 2)
            def start(ctx):
                s = ctx.socket(zmq.PUSH)
                s.bind(f"tcp://*:{PUB_PORT}")
                s.bind("tcp://127.0.0.1:{}".format(BASE - 1))
                s.bind(ENDPOINT)
            """
        )
    )
    assert (sites[7].port, sites[7].resolved, sites[7].context) == (5553, True, "start")
    assert sites[7].raw == "f'tcp://*:{PUB_PORT}'"
    assert (sites[8].port, sites[8].host) == (5549, "127.0.0.1")
    assert sites[9].port == 11100 and sites[9].socket_type == "PUSH"
    # The constant's own string is accounted for by the bind, not reported again as a mention.
    assert 4 not in sites


def test_port_from_default_argument_and_class_attribute() -> None:
    sites = by_line(
        py(
            """\
            import socket
            class Agent:
                PORT = 6000
                def __init__(self, port=6100):
                    self.port = port
                    self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                def start(self):
                    self.sock.bind(("0.0.0.0", self.PORT))
                    self.sock.bind(("0.0.0.0", self.port + 1))
                    self.sock.bind(("0.0.0.0", Agent.PORT + 2))
            def serve(sock, port=7000):
                sock.bind(("", port))
            """
        )
    )
    assert (sites[8].port, sites[8].resolved, sites[8].context) == (6000, True, "Agent.start")
    assert sites[8].socket_type == "SOCK_DGRAM"
    assert sites[9].port == 6101
    assert sites[10].port == 6002
    assert (sites[12].port, sites[12].host, sites[12].context) == (7000, "", "serve")


def test_unresolvable_port_keeps_raw_expression() -> None:
    sites = by_line(
        py(
            """\
            import zmq
            from settings import PORT
            def start(ctx, port):
                s = ctx.socket(zmq.PUB)
                s.bind(f"tcp://*:{port}")
                s.bind("tcp://*:%d" % PORT)
                s.connect(config["endpoint"])
            """
        )
    )
    assert sites[5].port is None and not sites[5].resolved and sites[5].raw == "f'tcp://*:{port}'"
    assert sites[5].host == "*"
    assert sites[6].port is None and not sites[6].resolved
    assert sites[7].role == "connect" and sites[7].port is None and sites[7].raw == "config['endpoint']"


def test_environment_default_is_known_but_not_resolved() -> None:
    sites = by_line(
        py(
            """\
            import os
            PORT = int(os.environ.get("AGENT_PORT", 7100))
            app.run(host="0.0.0.0", port=PORT)
            app.run(port=os.getenv("P") or 7200)
            """
        )
    )
    assert (sites[3].role, sites[3].port, sites[3].resolved) == ("listen", 7100, False)
    assert (sites[4].port, sites[4].resolved) == (7200, False)


def test_random_ports_are_resolved_zero() -> None:
    sites = by_line(
        py(
            """\
            import zmq
            s = zmq.Context().socket(zmq.REP)
            port = s.bind_to_random_port("tcp://*", min_port=6000)
            s.bind("tcp://*:0")
            s.bind("tcp://*:*")
            import socket
            t = socket.socket()
            t.bind(("127.0.0.1", 0))
            """
        )
    )
    for line in (3, 4, 5, 8):
        assert (sites[line].role, sites[line].port, sites[line].resolved) == ("bind", 0, True), line
    assert sites[3].socket_type == "REP" and sites[8].socket_type == "SOCK_STREAM"


def test_servers_listen() -> None:
    sites = by_line(
        py(
            """\
            import uvicorn
            from http.server import HTTPServer
            BASE = 8000
            uvicorn.run(app, host="0.0.0.0", port=BASE + 1)
            app.run("0.0.0.0", 5000)
            HTTPServer(("", BASE), Handler).serve_forever()
            web.run_app(app, port=8080)
            r = redis.Redis(host="cache", port=6379)
            """
        )
    )
    assert (sites[4].role, sites[4].port, sites[4].host) == ("listen", 8001, "0.0.0.0")
    assert (sites[5].role, sites[5].port) == ("listen", 5000)
    assert (sites[6].role, sites[6].port, sites[6].host) == ("listen", 8000, "")
    assert (sites[7].role, sites[7].port) == ("listen", 8080)
    assert (sites[8].role, sites[8].port, sites[8].host) == ("connect", 6379, "cache")


def test_plain_string_constants_and_no_false_positives() -> None:
    sites = py(
        """\
        '''Docs mention tcp://localhost:1111 but are not a port site.'''
        BROKER = "tcp://broker:5555"
        urls = ["http://localhost:9000/health", "ipc:///tmp/feed"]
        widget.bind("<Button-1>", on_click)
        db = sqlite3.connect("local.db")
        subprocess.run(["ls"], check=True)
        """
    )
    assert [(s.line, s.role, s.host, s.port) for s in sites] == [
        (2, "unknown", "broker", 5555),
        (3, "unknown", "localhost", 9000),
    ]


def test_unparseable_python_uses_fallback() -> None:
    code = textwrap.dedent(
        """\
        BASE = 5550
        class Relay:
            PORT = BASE + 1
            def run(self, port=4000):
                print "starting relay"
                self.sock.bind("tcp://*:%d" % self.PORT)
                try:
                    pass
                except Exception, e:
                    conn.connect(("localhost", port))
        print "feed at tcp://*:7777"
        <<<<<<< HEAD
        """
    ).encode()
    assert pysource.parse_python(code).tree is None
    sites = by_line(extract_ports("legacy/relay.py", code))
    assert all(s.via == "fallback" for s in sites.values())
    assert (sites[6].role, sites[6].port, sites[6].resolved, sites[6].context) == (
        "bind",
        5551,
        True,
        "Relay.run",
    )
    assert (sites[10].role, sites[10].port, sites[10].host) == ("connect", 4000, "localhost")
    assert (sites[11].role, sites[11].port) == ("unknown", 7777)


def test_bad_bytes_never_raise() -> None:
    for blob in (b"\xff\xfe\x00\x00garbage", b"(" * 5000, b"x = '" + b"a" * 100_000, b""):
        assert isinstance(extract_ports("x.py", blob), list)
        for name in ("x.yaml", "x.json", "x.toml", ".env"):
            assert isinstance(extract_ports(name, blob), list)
    # Deeply nested expressions: the recursion guard gives up on the site, not the file.
    deep = "PORT = " + "+".join(["1"] * 3000) + "\nsock.bind(('', 5000))\n"
    assert isinstance(extract_ports("deep.py", deep.encode()), list)


def test_ast_and_fallback_agree_on_parseable_code() -> None:
    code = textwrap.dedent(
        """\
        import zmq
        BASE = 6000
        class A:
            P = BASE + 5
            def go(self, ctx):
                s = ctx.socket(zmq.PUB)
                s.bind(f"tcp://*:{self.P}")
        """
    ).encode()
    direct = extract_ports("a.py", code)
    broken = extract_ports("a.py", code + b"print 'x'\n")
    assert [(s.line, s.role, s.port) for s in direct] == [(7, "bind", 6005)]
    assert [(s.line, s.role, s.port, s.via) for s in broken] == [(7, "bind", 6005, "fallback")]
    assert isinstance(ast.parse(code), ast.Module)


# ----------------------------------------------------------------------------------------------- config


def test_docker_compose_published_ports() -> None:
    compose = textwrap.dedent(
        """\
        services:
          web:
            image: nginx
            ports:
              - "8080:80"
              - "127.0.0.1:9090:90/udp"
              - "3000"
              - "${WEB_PORT:-8081}:80"
              - "6000-6002:6000-6002"
              - target: 80
                published: 8443
            environment:
              - BROKER=tcp://broker:5555
        """
    ).encode()
    sites = extract_ports("deploy/docker-compose.yml", compose)
    listen = [(s.line, s.port, s.resolved, s.host, s.socket_type) for s in sites if s.role == "listen"]
    assert listen == [
        (5, 8080, True, None, "tcp"),
        (6, 9090, True, "127.0.0.1", "udp"),
        (7, 0, True, None, "tcp"),
        (8, 8081, False, None, "tcp"),
        (9, 6000, True, None, "tcp"),
        (9, 6001, True, None, "tcp"),
        (9, 6002, True, None, "tcp"),
        (10, 8443, True, None, "tcp"),
    ]
    broker = [s for s in sites if s.role == "config"]
    assert [(s.line, s.host, s.port, s.context) for s in broker] == [
        (13, "broker", 5555, "services.web.environment[0]")
    ]
    assert all(s.via == "config" for s in sites)


def test_yaml_port_keys_with_offsets_and_defaults() -> None:
    text = textwrap.dedent(
        """\
        BASE: 7000
        agent:
          host: 0.0.0.0
          pub_port: ${BASE}+3
          sub_port: "$((${BASE} + 10))"
          rep_port: ${BASE:-1}-1
          metricsPort: ${UNSET:-9100}
          db_port: ${UNSET}
          report: 5
          support: 6
        """
    ).encode()
    sites = by_line(extract_ports("conf/agents.yaml", text))
    assert (sites[4].port, sites[4].resolved, sites[4].host, sites[4].context) == (
        7003,
        True,
        "0.0.0.0",
        "agent.pub_port",
    )
    assert (sites[5].port, sites[5].resolved) == (7010, True)
    assert (sites[6].port, sites[6].resolved) == (6999, True)
    assert (sites[7].port, sites[7].resolved) == (9100, False)
    assert (sites[8].port, sites[8].resolved) == (None, False)
    assert 9 not in sites and 10 not in sites


def test_env_toml_json_and_broken_config() -> None:
    env = b"# base\nBASE=5000\nexport PUB_PORT=${BASE}+1\nBROKER_URL=tcp://localhost:${PUB_PORT}\nNAME=x\n"
    env_sites = by_line(extract_ports(".env", env))
    assert (env_sites[3].port, env_sites[3].context) == (5001, "PUB_PORT")
    assert (env_sites[4].port, env_sites[4].host) == (5001, "localhost")
    assert set(env_sites) == {3, 4}

    toml = b'[server]\nhost = "0.0.0.0"\nport = 8000\n[client]\nendpoint = "tcp://10.0.0.1:5555"\n'
    toml_sites = by_line(extract_ports("conf/app.toml", toml))
    assert (toml_sites[3].port, toml_sites[3].host) == (8000, "0.0.0.0")
    assert (toml_sites[5].port, toml_sites[5].host) == (5555, "10.0.0.1")

    js = b'{\n  "server": {"port": 8001, "listen": "0.0.0.0:8002"},\n  "links": ["http://x:81"]\n}\n'
    js_sites = sorted((s.port, s.line, s.context) for s in extract_ports("cfg.json", js))
    assert js_sites == [(81, 3, "links[0]"), (8001, 2, "server.port"), (8002, 2, "server.listen")]

    helm = b"server:\n  port: {{ .Values.port }}\n  grpc_port: 9000\n"
    helm_sites = by_line(extract_ports("chart/values.yaml", helm))
    assert (helm_sites[2].port, helm_sites[2].resolved) == (None, False)
    assert helm_sites[3].port == 9000


def test_port_keys() -> None:
    for key in ("port", "PORT", "db_port", "grpc-port", "serverPort", "port_number"):
        assert is_port_key(key), key
    for key in ("report", "support", "export", "ports", "transport", "portal"):
        assert not is_port_key(key), key


# ----------------------------------------------------------------------------------------------- conflicts


def placed(
    machine: str, codebase: str, file: str, port: int | None, role: str = "bind", **kw: object
) -> SiteWithContext:
    return SiteWithContext(
        machine=machine,
        codebase=codebase,
        file=file,
        component=str(kw.get("component", file)),
        line=int(str(kw.get("line", 1))),
        role=role,
        host=kw.get("host", "*"),  # type: ignore[arg-type]
        port=port,
        resolved=bool(kw.get("resolved", True)),
        socket_type=kw.get("socket_type"),  # type: ignore[arg-type]
    )


def test_conflict_same_machine_two_components() -> None:
    conflicts = find_conflicts(
        [
            placed("m1", "alpha", "a.py", 5555),
            placed("m1", "alpha", "b.py", 5555, role="listen", line=7),
            placed("m1", "alpha", "c.py", 5555, role="connect"),
        ]
    )
    assert len(conflicts) == 1
    c = conflicts[0]
    assert (c.machine, c.port, c.transport) == ("m1", 5555, "tcp")
    assert c.components == ("alpha:a.py", "alpha:b.py")
    assert c.sites == (("alpha", "a.py", 1, "*"), ("alpha", "b.py", 7, "*"))
    assert c.key == "m1|tcp|5555|alpha:a.py,alpha:b.py"


def test_no_conflict_cases() -> None:
    assert find_conflicts([placed("m1", "alpha", "a.py", 5555), placed("m2", "beta", "a.py", 5555)]) == []
    assert (
        find_conflicts([placed("m1", "alpha", "a.py", 5555), placed("m1", "alpha", "a.py", 5555, line=9)])
        == []
    )
    assert find_conflicts([placed("m1", "alpha", "a.py", 0), placed("m1", "alpha", "b.py", 0)]) == []
    assert (
        find_conflicts([placed("m1", "a", "a.py", None), placed("m1", "a", "b.py", None, resolved=False)])
        == []
    )
    assert (
        find_conflicts([placed("m1", "a", "a.py", 7100, resolved=False), placed("m1", "a", "b.py", 7100)])
        == []
    )
    assert (
        find_conflicts(
            [placed("m1", "a", "a.py", 53, socket_type="SOCK_DGRAM"), placed("m1", "a", "b.py", 53)]
        )
        == []
    )
    two_ips = [placed("m1", "a", "a.py", 80, host="10.0.0.1"), placed("m1", "a", "b.py", 80, host="10.0.0.2")]
    assert find_conflicts(two_ips) == []
    loop = [placed("m1", "a", "a.py", 80, host="localhost"), placed("m1", "a", "b.py", 80, host="127.0.0.1")]
    assert len(find_conflicts(loop)) == 1


def test_conflict_across_codebases_on_one_machine() -> None:
    conflicts = find_conflicts(
        [
            placed("box", "alpha", "svc/server.py", 8080),
            placed("box", "beta", "svc/server.py", 8080, host="0.0.0.0"),
            placed("other", "gamma", "svc/server.py", 8080),
        ]
    )
    assert [(c.machine, c.codebases, c.components) for c in conflicts] == [
        ("box", ("alpha", "beta"), ("alpha:svc/server.py", "beta:svc/server.py"))
    ]


def test_end_to_end_extract_then_conflict() -> None:
    a = extract_ports(
        "agents/pub.py", b"import zmq\nP = 5000\nzmq.Context().socket(zmq.PUB).bind(f'tcp://*:{P+1}')\n"
    )
    b = extract_ports("docker-compose.yml", b"services:\n  relay:\n    ports: ['5001:5001']\n")
    rows = [
        placed("m1", "alpha", f, s.port, role=s.role, host=s.host, resolved=s.resolved, line=s.line)
        for f, sites in (("agents/pub.py", a), ("docker-compose.yml", b))
        for s in sites
    ]
    (conflict,) = find_conflicts(rows)
    assert conflict.port == 5001
    assert conflict.components == ("alpha:agents/pub.py", "alpha:docker-compose.yml")
