#!/usr/bin/env python3
"""server.py ROOT PORT OUTDIR: serves ROOT (with Range support) on 127.0.0.1:PORT; the page's
POST /result?tag=T is written to OUTDIR/T.json."""
import http.server, os, sys, urllib.parse

ROOT, PORT, OUT = sys.argv[1], int(sys.argv[2]), sys.argv[3]
HERE = os.path.dirname(os.path.abspath(__file__))


class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        u = urllib.parse.urlparse(self.path)
        tag = urllib.parse.parse_qs(u.query).get("tag", ["result"])[0]
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(os.path.join(OUT, os.path.basename(tag) + ".json.tmp"), "wb") as f:
            f.write(body)
        os.replace(os.path.join(OUT, os.path.basename(tag) + ".json.tmp"),
                   os.path.join(OUT, os.path.basename(tag) + ".json"))
        self.send_response(204)
        self.end_headers()

    def do_GET(self):
        name = os.path.basename(urllib.parse.urlparse(self.path).path) or "page.html"
        p = os.path.join(HERE, name) if name in ("page.html", "worklet.js") else os.path.join(ROOT, name)
        if not os.path.isfile(p):
            self.send_error(404)
            return
        data = open(p, "rb").read()
        ctype = {"html": "text/html", "js": "text/javascript", "mp4": "video/mp4"}.get(
            name.rsplit(".", 1)[-1], "application/octet-stream")
        start, end = 0, len(data) - 1
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            a, b = rng[6:].split(",")[0].split("-")
            start = int(a) if a else len(data) - int(b)
            end = int(b) if a and b else len(data) - 1
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data[start:end + 1])


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), H).serve_forever()
