"""A real STAC API on 127.0.0.1 for tests: landing page, collection, POST /search with paging,
injected 429/503 answers, and the COG files over HTTP with Range requests and expiring tokens.
Not a mock of pystac-client: the client talks HTTP to it like to Planetary Computer."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from shapely.geometry import box, shape

from monitor.imagery import Signer

CONFORMS = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/item-search#query",
    "https://api.stacspec.org/v1.0.0/collections",
]


class StacTestServer:
    """Serve ``items`` (dicts) and the files under ``file_root``; see the module docstring."""

    def __init__(
        self,
        items: list[dict],
        file_root: Path | None = None,
        *,
        page_size: int = 3,
        faults: dict[int, int] | None = None,
        require_token: bool = False,
        sas_lifetime: float = 3600.0,
    ):
        self.items = items
        self.file_root = file_root
        self.page_size = page_size
        self.faults = dict(faults or {})  # search call number -> status to answer instead
        self.require_token = require_token
        self.search_calls = 0
        self.served: dict[int, int] = {}
        self.file_requests = 0
        self.refused = 0
        self.sas_lifetime = sas_lifetime  # how long the tokens it hands out really work
        self.tokens_issued = 0
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> StacTestServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _count(self, status: int) -> None:
        with self.lock:
            self.served[status] = self.served.get(status, 0) + 1

    # -- search logic ---------------------------------------------------------------------
    def search(self, body: dict) -> tuple[list[dict], int | None]:
        cols = body.get("collections")
        bbox = body.get("bbox")
        area = box(*bbox) if bbox else None
        start = end = None
        if body.get("datetime"):
            a, _, b = body["datetime"].partition("/")
            start = (
                dt.datetime.fromisoformat(a.replace("Z", "+00:00")) if a not in ("", "..") else None
            )
            end = (
                dt.datetime.fromisoformat(b.replace("Z", "+00:00")) if b not in ("", "..") else None
            )
        cloud = (body.get("query") or {}).get("eo:cloud_cover", {})
        hits = []
        for it in self.items:
            if cols and it.get("collection") not in cols:
                continue
            if area is not None and not shape(it["geometry"]).intersects(area):
                continue
            when = dt.datetime.fromisoformat(it["properties"]["datetime"].replace("Z", "+00:00"))
            if (start and when < start) or (end and when > end):
                continue
            cc = it["properties"].get("eo:cloud_cover", 0)
            if "lte" in cloud and cc > cloud["lte"]:
                continue
            hits.append(it)
        offset = int(body.get("token", 0) or 0)
        limit = min(int(body.get("limit", 10)), self.page_size)
        page = hits[offset : offset + limit]
        nxt = offset + limit if offset + limit < len(hits) else None
        return page, nxt

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _json(self, status: int, payload, headers: dict | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)
                server._count(status)

            def do_GET(self):
                u = urlparse(self.path)
                if u.path in ("", "/"):
                    return self._json(
                        200,
                        {
                            "type": "Catalog",
                            "id": "test-api",
                            "stac_version": "1.0.0",
                            "description": "test",
                            "conformsTo": CONFORMS,
                            "links": [
                                {
                                    "rel": "self",
                                    "href": server.url + "/",
                                    "type": "application/json",
                                },
                                {
                                    "rel": "root",
                                    "href": server.url + "/",
                                    "type": "application/json",
                                },
                                {
                                    "rel": "data",
                                    "href": server.url + "/collections",
                                    "type": "application/json",
                                },
                                {
                                    "rel": "search",
                                    "href": server.url + "/search",
                                    "type": "application/geo+json",
                                    "method": "POST",
                                },
                            ],
                        },
                    )
                if u.path == "/conformance":
                    return self._json(200, {"conformsTo": CONFORMS})
                if u.path.startswith("/collections/"):
                    cid = u.path.split("/")[2]
                    return self._json(
                        200,
                        {
                            "type": "Collection",
                            "id": cid,
                            "stac_version": "1.0.0",
                            "description": cid,
                            "license": "proprietary",
                            "extent": {
                                "spatial": {"bbox": [[-180, -90, 180, 90]]},
                                "temporal": {"interval": [[None, None]]},
                            },
                            "links": [{"rel": "self", "href": server.url + u.path}],
                        },
                    )
                if u.path.startswith("/files/") or u.path.startswith("/container/"):
                    return self._file(u, head=False)
                if u.path.startswith("/api/sas/v1/token/"):
                    # Planetary Computer's SAS endpoint: the expiry it states is an hour away; the
                    # first token stops working after ``sas_lifetime`` (a run outlived it)
                    with server.lock:
                        server.tokens_issued += 1
                    expiry = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
                    works = server.sas_lifetime if server.tokens_issued == 1 else 3600.0
                    return self._json(
                        200,
                        {
                            "msft:expiry": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
                            "token": f"st=x&se=y&sp=rl&sig=exp-{time.time() + works}",
                        },
                    )
                self._json(404, {"code": "NotFound"})

            def do_HEAD(self):
                u = urlparse(self.path)
                if u.path.startswith("/files/") or u.path.startswith("/container/"):
                    return self._file(u, head=True)
                self.send_response(404)
                self.end_headers()

            def do_POST(self):
                u = urlparse(self.path)
                body = json.loads(
                    self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}"
                )
                if u.path != "/search":
                    return self._json(404, {"code": "NotFound"})
                with server.lock:
                    server.search_calls += 1
                    fault = server.faults.pop(server.search_calls, None)
                if fault is not None:
                    return self._json(
                        fault,
                        {"code": "Throttled" if fault == 429 else "Unavailable"},
                        {"Retry-After": "0"} if fault == 429 else None,
                    )
                page, nxt = server.search(body)
                links = []
                if nxt is not None:
                    links.append(
                        {
                            "rel": "next",
                            "href": server.url + "/search",
                            "method": "POST",
                            "body": {"token": nxt},
                            "merge": True,
                            "type": "application/geo+json",
                        }
                    )
                self._json(200, {"type": "FeatureCollection", "features": page, "links": links})

            def _file(self, u, head: bool) -> None:
                with server.lock:
                    server.file_requests += 1
                if server.require_token:
                    sig = parse_qs(u.query).get("sig", [""])[0]
                    if not sig.startswith("exp-") or float(sig[4:]) < time.time():
                        with server.lock:
                            server.refused += 1
                        self.send_response(403)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                prefix = "/files/" if u.path.startswith("/files/") else "/container/"
                path = (server.file_root / u.path[len(prefix) :]).resolve()
                if server.file_root is None or not path.is_file():
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = path.read_bytes()
                rng = self.headers.get("Range")
                if rng and rng.startswith("bytes="):
                    a, _, b = rng[6:].partition("-")
                    a = int(a)
                    b = min(int(b) if b else len(data) - 1, len(data) - 1)
                    chunk = data[a : b + 1]
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {a}-{b}/{len(data)}")
                else:
                    chunk = data
                    self.send_response(200)
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Type", "image/tiff")
                self.send_header("Content-Length", str(len(chunk)))
                self.end_headers()
                if not head:
                    self.wfile.write(chunk)

        return Handler


def demo_items_over_http(catalog_root: Path, base_url: str, prefix: str = "files") -> list[dict]:
    """The demo catalog's item JSON with asset hrefs rewritten to the test server's
    /<prefix>/ (files, or container for blob-storage-like URLs)."""
    out = []
    for path in sorted((catalog_root / "sentinel-2-l2a").glob("*/*.json")):
        item = json.loads(path.read_text())
        rel = path.parent.relative_to(catalog_root)
        for asset in item["assets"].values():
            asset["href"] = f"{base_url}/{prefix}/{rel}/{asset['href'].lstrip('./')}"
        item["links"] = []
        out.append(item)
    return out


class ExpiringSigner(Signer):
    """A signer like planetary_computer's: appends a token that expires; ``refresh`` renews it."""

    def __init__(self, lifetime: float):
        self.lifetime = lifetime
        self.refreshes = 0
        self.calls = 0
        self.token = f"exp-{time.time() + lifetime}"

    def __call__(self, url: str) -> str:
        self.calls += 1
        return f"{url}?sig={self.token}"

    def refresh(self) -> None:
        self.refreshes += 1
        self.token = f"exp-{time.time() + 3600}"
