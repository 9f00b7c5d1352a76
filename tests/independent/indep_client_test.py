"""Unit tests of indep_client.py: entry syntax, config.json and config.lua reading.

Run from this directory: python3 -m unittest indep_client_test
"""

import hashlib
import json
import os
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

import indep_client

# A fingerprint in OpenSSL's style and the digits it stands for.
DIGITS = hashlib.sha256(b"edge").hexdigest().upper()
COLON = ":".join(DIGITS[i:i + 2] for i in range(0, len(DIGITS), 2))
OTHER = hashlib.sha256(b"other").hexdigest().upper()


class NullLog:
  """Collects messages instead of printing them."""

  def __init__(self):
    self.lines = []

  def write(self, level, message):
    self.lines.append((level, message))


class NormalizeEntryTest(unittest.TestCase):

  def test_table(self):
    cases = [
        ("colon", COLON, DIGITS),
        ("plain", DIGITS, DIGITS),
        ("colon quads", ":".join(DIGITS[i:i + 4] for i in range(0, 64, 4)), DIGITS),
        ("blanks around", "  %s\n" % COLON, DIGITS),
        ("lower case", COLON.lower(), None),
        ("63 digits", DIGITS[:-1], None),
        ("65 digits", DIGITS + "0", None),
        ("foreign character", "Z" + DIGITS[1:], None),
        ("hyphens", COLON.replace(":", "-"), None),
        ("openssl label", "SHA256 Fingerprint=" + COLON, None),
        ("empty", "", None),
    ]
    for name, entry, want in cases:
      with self.subTest(name):
        self.assertEqual(indep_client.normalize_entry(entry), want)


class ConfigTestBase(unittest.TestCase):

  def setUp(self):
    self.dir = tempfile.TemporaryDirectory()
    self.ca = os.path.join(self.dir.name, "ca.pem")
    # Any certificate loads as a CA file: a fresh self-signed one, never used to connect.
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=indep-test",
                    "-days", "1", "-keyout", os.path.join(self.dir.name, "ca.key"),
                    "-out", self.ca], check=True, capture_output=True)

  def tearDown(self):
    self.dir.cleanup()

  def write(self, name, text):
    path = os.path.join(self.dir.name, name)
    with open(path, "w", encoding="utf-8") as stream:
      stream.write(text)
    return path


class EmsConfigTest(ConfigTestBase):

  def ems(self, allowlist=None, legacy=None, extra_certs=None):
    certs = {"cert_chain": [self.ca]}
    if allowlist is not None:
      certs["fingerprint_allowlist"] = allowlist
    if legacy is not None:
      certs["fingerprint_whitelist"] = legacy
    certs.update(extra_certs or {})
    doc = {"ws_servers": [{"host": "127.0.0.1", "port": 1}],
           "http_server": {"host": "127.0.0.1", "port": 2}, "certificates": certs,
           "auto_bind": [{"name": "a", "host": "127.0.0.1", "port": 3, "protocol": "https",
                          "path": "/a"},
                         {"name": "b", "host": "127.0.0.1", "port": 4, "protocol": "http"}]}
    return self.write("config.json", json.dumps(doc))

  def test_valid(self):
    cases = [
        ("no property", None, None),
        ("one entry", [COLON], {DIGITS}),
        ("two entries", [OTHER, COLON], {DIGITS, OTHER}),
        ("blank entry skipped", ["", COLON], {DIGITS}),
        ("bad entry matches nothing", ["Z" + DIGITS[1:], COLON], {DIGITS}),
        ("only bad entries", [COLON.lower()], set()),
    ]
    for name, allowlist, want in cases:
      with self.subTest(name):
        config = indep_client.EmsConfig(self.ems(allowlist), NullLog())
        self.assertEqual(config.allowlist, want)
        self.assertEqual([e["name"] for e in config.edges], ["a"])
        self.assertEqual(config.edges[0]["path"], "/a")
        self.assertIsNone(config.platform_policy.allowlist)

  def test_invalid(self):
    cases = [
        ("empty array", [], None, "fingerprint_allowlist"),
        ("blank strings only", ["", "  "], None, "fingerprint_allowlist"),
        ("lone string", COLON, None, "fingerprint_allowlist"),
        ("number item", [1], None, "fingerprint_allowlist"),
        ("null", None, None, None),
        ("legacy key", None, [COLON], "fingerprint_allowlist"),
        ("legacy and new", [COLON], [COLON], "fingerprint_whitelist"),
    ]
    for name, allowlist, legacy, words in cases:
      with self.subTest(name):
        if name == "null":
          path = self.write("config.json", "{\"certificates\": {\"fingerprint_allowlist\": null}}")
        else:
          path = self.ems(allowlist, legacy)
        with self.assertRaises(indep_client.ConfigError) as raised:
          indep_client.EmsConfig(path, NullLog())
        if words:
          self.assertIn(words, str(raised.exception))

  def test_edge_ca_files(self):
    with open(self.ca, encoding="ascii") as stream:
      other = self.write("other.pem", stream.read())
    config = indep_client.EmsConfig(self.ems([COLON], extra_certs={
        "http_client_ca_certs": [other]}), NullLog())
    self.assertEqual(config.platform_policy.ca_file, [self.ca])
    self.assertEqual(config.edge_policy.ca_file, [other])


class LsrConfigTest(ConfigTestBase):

  def lsr(self, allowlist_lua):
    text = ("scripts.rap_host = \"127.0.0.1\"\nscripts.rap_port = 8443\n"
            "scripts.rap_ssl = true\nscripts.rap_cert_file = %s\n" % json.dumps(self.ca))
    if allowlist_lua is not None:
      text += "scripts.fingerprint_allowlist = %s\n" % allowlist_lua
    return self.write("config.lua", text)

  def test_valid(self):
    cases = [
        ("no property", None, None),
        ("one string", json.dumps(COLON), {DIGITS}),
        ("two items", json.dumps(OTHER + "," + COLON), {DIGITS, OTHER}),
        ("long string over two lines", "[[%s,\n%s]]" % (OTHER, COLON), {DIGITS, OTHER}),
        ("concatenation", "%s ..\n %s" % (json.dumps(OTHER + ","), json.dumps(COLON)),
         {DIGITS, OTHER}),
        ("trailing comma", json.dumps(COLON + ","), {DIGITS}),
        ("table of strings", "{%s}" % json.dumps(COLON), {DIGITS}),
    ]
    for name, lua, want in cases:
      with self.subTest(name):
        config = indep_client.LsrConfig(self.lsr(lua), NullLog())
        self.assertEqual(config.allowlist, want)
        self.assertEqual((config.host, config.port, config.tls), ("127.0.0.1", 8443, True))

  def test_invalid(self):
    cases = [
        ("empty string", "\"\""),
        ("blank string", "\"   \""),
        ("lone comma", "\",\""),
        ("number", "5"),
        ("function", "function() end"),
        ("documented two-line string", "\"%s,\n%s\"" % (OTHER, COLON)),
        ("runtime error", "nil .. \"x\""),
    ]
    for name, lua in cases:
      with self.subTest(name):
        with self.assertRaises(indep_client.ConfigError):
          indep_client.LsrConfig(self.lsr(lua), NullLog())

  def test_legacy_key_exits(self):
    path = self.lsr(None)
    with open(path, "a", encoding="utf-8") as stream:
      stream.write("scripts.fingerprint_whitelist = %s\n" % json.dumps(COLON))
    with self.assertRaises(indep_client.ConfigError) as raised:
      indep_client.LsrConfig(path, NullLog())
    self.assertIn("fingerprint_allowlist", str(raised.exception))



class EdgeServer:
  """A loopback TLS server that records, per TCP connection, the bytes it received."""

  def __init__(self, cert, key):
    self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    self.ctx.load_cert_chain(cert, key)
    self.listener = socket.create_server(("127.0.0.1", 0))
    self.port = self.listener.getsockname()[1]
    self.listener.settimeout(0.05)
    self.received = []  # one entry per connection: bytes, or None if no handshake
    self.stop = threading.Event()
    self.thread = threading.Thread(target=self._serve, daemon=True)
    self.thread.start()

  def _serve(self):
    # Bounded: at most 10 minutes of 50 ms waits.
    for _ in range(12000):
      if self.stop.is_set():
        return
      try:
        raw, _ = self.listener.accept()
      except socket.timeout:
        continue
      except OSError:
        return
      raw.settimeout(5)
      try:
        tls = self.ctx.wrap_socket(raw, server_side=True)
      except (OSError, ssl.SSLError):
        self.received.append(None)
        raw.close()
        continue
      data = b""
      try:
        while b"\r\n\r\n" not in data:
          chunk = tls.recv(4096)
          if not chunk:
            break
          data += chunk
        if data:
          tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
      except (OSError, ssl.SSLError):
        pass
      self.received.append(data)
      tls.close()

  def close(self):
    self.stop.set()
    self.thread.join(5)
    self.listener.close()


class EmsConnectionTest(ConfigTestBase):
  """The EMS's edge connections against a real TLS server on loopback."""

  def setUp(self):
    super().setUp()
    self.key = os.path.join(self.dir.name, "edge.key")
    self.cert = os.path.join(self.dir.name, "edge.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-days", "1",
                    "-keyout", self.key, "-out", self.cert], check=True, capture_output=True)
    with open(self.cert, encoding="ascii") as stream:
      der = ssl.PEM_cert_to_DER_cert(stream.read())
    self.digits = hashlib.sha256(der).hexdigest().upper()
    self.server = EdgeServer(self.cert, self.key)

  def tearDown(self):
    self.server.close()
    super().tearDown()

  def config(self, allowlist):
    certs = {"cert_chain": [self.cert]}
    if allowlist is not None:
      certs["fingerprint_allowlist"] = allowlist
    doc = {"ws_servers": [{"host": "127.0.0.1", "port": 1}],
           "http_server": {"host": "127.0.0.1", "port": free_port()}, "certificates": certs,
           "auto_bind": [{"name": "edge", "host": "127.0.0.1", "port": self.server.port,
                          "protocol": "https", "path": "/fpconform/edge"}]}
    return indep_client.EmsConfig(self.write("config.json", json.dumps(doc)), NullLog())

  def test_table(self):
    cases = [
        # name, allowlist, probe, status, what the server saw per connection
        ("listed", "listed", False, 200, ["GET"]),
        ("listed with probe", "listed", True, 200, [None, "GET"]),
        ("unlisted", [OTHER], False, 502, [""]),
        ("unlisted with probe", [OTHER], True, 502, [None, ""]),
        ("no allowlist", None, False, 200, ["GET"]),
    ]
    for name, allowlist, probe, want_status, want_seen in cases:
      with self.subTest(name):
        self.server.received.clear()
        if allowlist == "listed":
          allowlist = [self.digits]
        ems = indep_client.Ems(self.config(allowlist), NullLog(), probe)
        status, _ = ems.dial_edge(ems.config.edges[0])
        self.assertEqual(status, want_status)
        deadline = time.monotonic() + 5
        while len(self.server.received) < len(want_seen) and time.monotonic() < deadline:
          time.sleep(0.01)
        seen = [None if data is None else data.decode("latin-1")[:3]
                for data in self.server.received]
        self.assertEqual(seen, want_seen)

  def test_rest_listener_dials_the_named_thing(self):
    ems = indep_client.Ems(self.config([self.digits]), NullLog(), True)
    server = ems.serve()
    try:
      base = "http://127.0.0.1:%d/Thingworx/Things/" % ems.config.listen_port
      request = urllib.request.Request(base + "edge/Services/GetStatus", method="POST")
      with urllib.request.urlopen(request, timeout=10) as response:
        self.assertEqual(response.status, 200)
      with self.assertRaises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(base + "nothing/Services/GetStatus", timeout=10)
      self.assertEqual(raised.exception.code, 404)
    finally:
      server.shutdown()
      server.server_close()


def free_port():
  with socket.create_server(("127.0.0.1", 0)) as probe:
    return probe.getsockname()[1]


if __name__ == "__main__":
  unittest.main()
