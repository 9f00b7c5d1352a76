#!/usr/bin/env python3
"""An independent EMS / LSR client for certificate fingerprint validation.

Written from the vendor document and the suite's public target contract only (see
README.md beside this file for every point the document leaves open and the choice made
here). It reads the product's configuration, validates the server certificate against the
configured CA files (and host name), then compares the SHA-256 of the server's leaf
certificate with the allowlist; a leaf that is not listed ends the connection before any
data is sent.

    indep_client.py --product ems --config config.json [--log FILE] [--on-demand] [--probe]
    indep_client.py --product lsr --config config.lua [--log FILE]

Exit status: 0 stopped by SIGTERM/SIGINT, 1 invalid configuration (before any
connection), 2 invalid command line.
"""

import argparse
import base64
import hashlib
import http.server
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

# Exit statuses.
EXIT_STOPPED = 0
EXIT_CONFIG = 1
EXIT_USAGE = 2

# Seconds one connection (connect, handshake, request, response) may take.
IO_TIMEOUT_S = 5.0
# Seconds the Lua interpreter may take to evaluate config.lua.
LUA_TIMEOUT_S = 5.0
# Digits of a SHA-256 fingerprint written in hex.
FINGERPRINT_DIGITS = 64
# The documented fingerprint alphabet once the optional ':' are removed.
FINGERPRINT_RE = re.compile(r"[0-9A-F]{%d}" % FINGERPRINT_DIGITS)

HERE = os.path.dirname(os.path.abspath(__file__))


class ConfigError(Exception):
  """A configuration the product refuses to run with (exit before any connection)."""


class Log:
  """Writes each message to stderr and, when a log file is given, to that file."""

  def __init__(self, path):
    self._file = open(path, "a", encoding="utf-8") if path else None
    self._lock = threading.Lock()

  def write(self, level, message):
    line = "%s [%s] %s" % (time.strftime("%H:%M:%S"), level, message)
    with self._lock:
      print(line, file=sys.stderr, flush=True)
      if self._file:
        self._file.write(line + "\n")
        self._file.flush()


def normalize_entry(text):
  """Returns the 64 upper-case hex digits an entry names, or None when it names none.

  The ':' are optional and ignored (C10); white space around an entry is trimmed (D2);
  anything else outside 0-9 and A-F (lower case included) makes the entry invalid.
  """
  digits = text.strip().replace(":", "")
  return digits if FINGERPRINT_RE.fullmatch(digits) else None


def build_allowlist(entries, where, log):
  """Turns the configured entries into a set of fingerprints.

  An invalid entry is reported and matches nothing; the others still work (I5).
  """
  allowed = set()
  for entry in entries:
    digits = normalize_entry(entry)
    if digits is None:
      log.write("WARN", "%s: entry %r is not a SHA-256 fingerprint (64 digits 0-9 A-F, "
                "optional ':'); it matches no certificate" % (where, entry))
    else:
      allowed.add(digits)
  return allowed


def fingerprint(der):
  """The SHA-256 of a certificate's DER encoding in upper-case hex (C9)."""
  return hashlib.sha256(der).hexdigest().upper()


class TlsPolicy:
  """How the product checks one kind of server."""

  def __init__(self, ca_file, validate, check_hostname, allowlist):
    self.ca_file = ca_file  # list of CA files
    self.validate = validate
    self.check_hostname = check_hostname
    self.allowlist = allowlist  # None: pinning disabled (C6)

  def context(self):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if self.validate:
      for path in self.ca_file:
        ctx.load_verify_locations(cafile=path)
      ctx.check_hostname = self.check_hostname
      ctx.verify_mode = ssl.CERT_REQUIRED
    else:
      ctx.check_hostname = False
      ctx.verify_mode = ssl.CERT_NONE
    return ctx


def ca_files(value, where):
  """The CA files a field names: one path, or an array of paths (each must load)."""
  paths = [value] if isinstance(value, str) else value
  if (not isinstance(paths, list) or not paths or
      not all(isinstance(path, str) and path for path in paths)):
    raise ConfigError("%s: must name a CA file or an array of CA files" % where)
  for path in paths:
    try:
      ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=path)
    except (OSError, ssl.SSLError) as error:
      raise ConfigError("%s: cannot load CA file %s: %s" % (where, path, error))
  return paths


def tcp_probe(host, port, name, log):
  """Reachability probe: connects and closes without sending anything."""
  try:
    with socket.create_connection((host, port), timeout=IO_TIMEOUT_S):
      pass
    log.write("INFO", "%s: %s:%d reachable" % (name, host, port))
    return True
  except OSError as error:
    log.write("ERROR", "%s: %s:%d unreachable: %s" % (name, host, port, error))
    return False


def tls_connect(host, port, policy, name, log):
  """Connects, validates and pins. Returns the TLS socket, or None when refused."""
  try:
    raw = socket.create_connection((host, port), timeout=IO_TIMEOUT_S)
  except OSError as error:
    log.write("ERROR", "%s: cannot connect to %s:%d: %s" % (name, host, port, error))
    return None
  try:
    tls = policy.context().wrap_socket(raw, server_hostname=host)
  except (OSError, ssl.SSLError, ValueError) as error:
    log.write("ERROR", "%s: TLS validation failed: %s" % (name, error))
    raw.close()
    return None
  if policy.allowlist is not None:
    digest = fingerprint(tls.getpeercert(binary_form=True))
    if digest not in policy.allowlist:
      log.write("ERROR", "%s: certificate fingerprint %s is not in fingerprint_allowlist; "
                "connection terminated" % (name, digest))
      # No application data and no TLS shutdown: the connection is just dropped.
      tls.close()
      return None
    log.write("INFO", "%s: certificate fingerprint %s is allowed" % (name, digest))
  return tls


def read_response(sock):
  """Reads an HTTP response head (and what follows, until close or timeout)."""
  data = b""
  try:
    while b"\r\n\r\n" not in data and len(data) < 65536:
      chunk = sock.recv(4096)
      if not chunk:
        break
      data += chunk
  except (OSError, ssl.SSLError):
    pass
  return data


def status_line(data):
  return data.split(b"\r\n", 1)[0].decode("latin-1", "replace")


def http_exchange(sock, host, method, path, headers, body, name, log):
  """Sends one HTTP/1.1 request and returns the response bytes."""
  lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s" % host]
  lines += ["%s: %s" % item for item in headers]
  if body is not None:
    lines.append("Content-Length: %d" % len(body))
  request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
  try:
    sock.sendall(request)
  except (OSError, ssl.SSLError) as error:
    log.write("ERROR", "%s: send failed: %s" % (name, error))
    return b""
  response = read_response(sock)
  log.write("INFO", "%s: %s" % (name, status_line(response) or "no response"))
  return response


# ----------------------------------------------------------------------------- EMS


class EmsConfig:
  """What the EMS needs from config.json."""

  def __init__(self, path, log):
    try:
      with open(path, "rb") as stream:
        doc = json.loads(stream.read().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
      raise ConfigError("%s: cannot read the configuration: %s" % (path, error))
    if not isinstance(doc, dict):
      raise ConfigError("%s: the configuration is not a JSON object" % path)
    certs = doc.get("certificates", {})
    if not isinstance(certs, dict):
      raise ConfigError("%s: certificates: not an object" % path)

    if "fingerprint_whitelist" in certs:
      raise ConfigError(
          "%s: certificates.fingerprint_whitelist is no longer supported: rename it to "
          "fingerprint_allowlist" % path)
    self.allowlist = None
    if "fingerprint_allowlist" in certs:
      value = certs["fingerprint_allowlist"]
      where = "%s: certificates.fingerprint_allowlist" % path
      if not isinstance(value, list):
        raise ConfigError("%s: must be an array of fingerprint strings" % where)
      if not value:
        raise ConfigError("%s: the array holds no fingerprint" % where)
      if not all(isinstance(item, str) for item in value):
        raise ConfigError("%s: every item must be a string" % where)
      # Blank strings are placeholders, not fingerprints: skipped, as the LSR skips empty
      # items between commas; an array of placeholders only holds no fingerprint (C7).
      items = [item for item in value if item.strip()]
      if not items:
        raise ConfigError("%s: the array holds no fingerprint" % where)
      if len(items) != len(value):
        log.write("WARN", "%s: blank items skipped" % where)
      self.allowlist = build_allowlist(items, where, log)

    validate = bool_field(certs, "validate", True, path, "certificates")
    no_hostname = bool_field(certs, "disable_hostname_validation", False, path, "certificates")
    bool_field(certs, "allow_self_signed", False, path, "certificates")
    # cert_chain verifies the platform, and the edge endpoints too unless
    # http_client_ca_certs names their own CA files (I13).
    platform_ca = edge_ca = None
    if validate:
      platform_ca = edge_ca = ca_files(certs.get("cert_chain"),
                                       "%s: certificates.cert_chain" % path)
      if "http_client_ca_certs" in certs:
        edge_ca = ca_files(certs["http_client_ca_certs"],
                           "%s: certificates.http_client_ca_certs" % path)

    servers = doc.get("ws_servers")
    if not isinstance(servers, list) or not servers or not isinstance(servers[0], dict):
      raise ConfigError("%s: ws_servers: an array with at least one server is required" % path)
    self.platform_host = str(servers[0].get("host", ""))
    self.platform_port = port_field(servers[0].get("port"), path, "ws_servers[0].port")
    self.resource = str(doc.get("resource", "/Thingworx/WS"))
    self.app_key = str(doc.get("appKey", ""))
    connection = doc.get("ws_connection", {})
    self.platform_tls = not (isinstance(connection, dict) and
                             connection.get("encryption") == "none")

    http_server = doc.get("http_server", {})
    if not isinstance(http_server, dict):
      raise ConfigError("%s: http_server: not an object" % path)
    self.listen_host = str(http_server.get("host", "127.0.0.1"))
    self.listen_port = port_field(http_server.get("port", 8000), path, "http_server.port")

    self.edges = []
    binds = doc.get("auto_bind", [])
    if not isinstance(binds, list):
      raise ConfigError("%s: auto_bind: not an array" % path)
    for index, bind in enumerate(binds):
      if not isinstance(bind, dict):
        raise ConfigError("%s: auto_bind[%d]: not an object" % (path, index))
      protocol = bind.get("protocol", "http")
      name = str(bind.get("name", "auto_bind[%d]" % index))
      if protocol != "https":
        # Pinning is a TLS feature (C3): plain HTTP endpoints are not dialled at all
        # while an allowlist is configured, so nothing escapes the check.
        log.write("WARN", "%s: auto_bind %s uses %s; only https endpoints are dialled" %
                  (path, name, protocol))
        continue
      self.edges.append({
          "name": name,
          "host": str(bind.get("host", "")),
          "port": port_field(bind.get("port"), path, "auto_bind[%d].port" % index),
          "path": str(bind.get("resource", bind.get("path", "/"))) or "/",
      })

    self.platform_policy = TlsPolicy(platform_ca, validate, not no_hostname, None)
    self.edge_policy = TlsPolicy(edge_ca, validate, not no_hostname, self.allowlist)


def bool_field(obj, key, default, path, group):
  value = obj.get(key, default)
  if not isinstance(value, bool):
    raise ConfigError("%s: %s.%s: must be true or false" % (path, group, key))
  return value


def port_field(value, path, field):
  if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
    raise ConfigError("%s: %s: must be a port number" % (path, field))
  return value


class Ems:
  """The EMS: the platform WebSocket (never pinned, C8) and the pinned edge endpoints."""

  def __init__(self, config, log, probe):
    self.config = config
    self.log = log
    self.probe = probe
    self.platform = None

  def connect_platform(self):
    cfg = self.config
    if cfg.platform_tls:
      sock = tls_connect(cfg.platform_host, cfg.platform_port, cfg.platform_policy,
                         "platform", self.log)
    else:
      try:
        sock = socket.create_connection((cfg.platform_host, cfg.platform_port),
                                        timeout=IO_TIMEOUT_S)
      except OSError as error:
        self.log.write("ERROR", "platform: cannot connect: %s" % error)
        sock = None
    if sock is None:
      return
    key = base64.b64encode(os.urandom(16)).decode("ascii")
    headers = [("Upgrade", "websocket"), ("Connection", "Upgrade"),
               ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13"),
               ("appKey", cfg.app_key)]
    http_exchange(sock, cfg.platform_host, "GET", cfg.resource, headers, None, "platform",
                  self.log)
    self.platform = sock  # kept open, like the AlwaysOn connection

  def dial_edge(self, edge):
    """Dials one edge endpoint; returns (HTTP status, body) for the REST caller."""
    name = "auto_bind %s" % edge["name"]
    if self.probe and not tcp_probe(edge["host"], edge["port"], name, self.log):
      return 502, b"unreachable\n"
    sock = tls_connect(edge["host"], edge["port"], self.config.edge_policy, name, self.log)
    if sock is None:
      return 502, b"refused\n"
    try:
      response = http_exchange(sock, edge["host"], "GET", edge["path"],
                               [("Connection", "close")], None, name, self.log)
    finally:
      sock.close()
    return (200 if re.match(rb"HTTP/1\.[01] 200 ", response) else 502), response

  def dial_all(self):
    for edge in self.config.edges:
      self.dial_edge(edge)

  def serve(self):
    """The EMS's own REST listener: POST /Thingworx/Things/<name>/... dials that Thing."""
    ems = self

    class Handler(http.server.BaseHTTPRequestHandler):
      def log_message(self, fmt, *args):
        ems.log.write("INFO", "http_server: " + fmt % args)

      def handle_any(self):
        parts = self.path.split("?", 1)[0].strip("/").split("/")
        edge = None
        if len(parts) >= 3 and parts[0] == "Thingworx" and parts[1] == "Things":
          edge = next((e for e in ems.config.edges if e["name"] == parts[2]), None)
        if edge is None:
          status, body = 404, b"no such Thing\n"
        else:
          status, body = ems.dial_edge(edge)
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

      do_GET = handle_any
      do_POST = handle_any

    server = http.server.ThreadingHTTPServer(
        (self.config.listen_host, self.config.listen_port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    self.log.write("INFO", "http_server listening on %s:%d" %
                   (self.config.listen_host, self.config.listen_port))
    return server


# ----------------------------------------------------------------------------- LSR


def unescape(text):
  return re.sub(r"\\(.)", lambda m: {"t": "\t", "n": "\n", "r": "\r"}.get(m.group(1),
                                                                          m.group(1)), text)


def read_lua_config(path):
  """Evaluates config.lua with lua5.4 and returns {key: (type, value)}."""
  try:
    result = subprocess.run(["lua5.4", os.path.join(HERE, "read_config.lua"), path],
                            capture_output=True, timeout=LUA_TIMEOUT_S)
  except (OSError, subprocess.TimeoutExpired) as error:
    raise ConfigError("%s: cannot evaluate the configuration: %s" % (path, error))
  if result.returncode != 0:
    message = result.stderr.decode("utf-8", "replace").strip()
    raise ConfigError(message or "%s: the configuration raised an error" % path)
  values = {}
  for line in result.stdout.decode("utf-8", "replace").splitlines():
    key, kind, value = (line.split("\t", 2) + ["", ""])[:3]
    if kind == "list":
      values[key] = (kind, [unescape(item) for item in value.split("\t")] if value else [])
    else:
      values[key] = (kind, unescape(value))
  return values


class LsrConfig:
  """What the LSR needs from config.lua."""

  def __init__(self, path, log):
    values = read_lua_config(path)

    def get(key, kind, default):
      if key not in values:
        return default
      got_kind, value = values[key]
      if got_kind != kind:
        raise ConfigError("%s: scripts.%s: must be a %s" % (path, key, kind))
      if kind == "boolean":
        return value == "true"
      if kind == "number":
        return float(value)
      return value

    if "fingerprint_whitelist" in values:
      raise ConfigError("%s: scripts.fingerprint_whitelist is no longer supported: rename it "
                        "to fingerprint_allowlist" % path)
    self.allowlist = None
    if "fingerprint_allowlist" in values:
      where = "%s: scripts.fingerprint_allowlist" % path
      kind, value = values["fingerprint_allowlist"]
      if kind == "string":
        items = value.split(",")
      elif kind == "list":
        items = value  # a table of strings: one fingerprint each (D10)
      else:
        raise ConfigError("%s: must be a string of comma-separated fingerprints" % where)
      # Empty items (a trailing comma, ",,") are skipped (D6).
      items = [item for item in items if item.strip()]
      if not items:
        raise ConfigError("%s: holds no fingerprint" % where)
      self.allowlist = build_allowlist(items, where, log)

    self.host = get("rap_host", "string", "127.0.0.1")
    port = get("rap_port", "number", 443)
    if port != int(port) or not 0 < port < 65536:
      raise ConfigError("%s: scripts.rap_port: must be a port number" % path)
    self.port = int(port)
    self.tls = get("rap_ssl", "boolean", True)
    validate = get("rap_validate", "boolean", True)
    get("rap_deny_selfsigned", "boolean", True)
    no_hostname = get("rap_disable_hostname_validation", "boolean", False)
    ca_file = None
    if self.tls and validate:
      ca_file = ca_files(get("rap_cert_file", "string", None),
                         "%s: scripts.rap_cert_file" % path)
    if not self.tls and self.allowlist is not None:
      raise ConfigError("%s: scripts.fingerprint_allowlist needs scripts.rap_ssl = true "
                        "(fingerprints are checked on TLS connections only)" % path)
    self.policy = TlsPolicy(ca_file, validate, not no_hostname, self.allowlist)


def run_lsr(config, log):
  """Registers with the EMS's REST listener (rap_host:rap_port)."""
  name = "rap %s:%d" % (config.host, config.port)
  if config.tls:
    sock = tls_connect(config.host, config.port, config.policy, name, log)
  else:
    try:
      sock = socket.create_connection((config.host, config.port), timeout=IO_TIMEOUT_S)
    except OSError as error:
      log.write("ERROR", "%s: cannot connect: %s" % (name, error))
      sock = None
  if sock is None:
    return
  body = b'{"name":"LuaScriptResource"}'
  try:
    http_exchange(sock, config.host, "POST", "/Thingworx/Things/LocalScriptResource/"
                  "Services/Register", [("Content-Type", "application/json"),
                                        ("Connection", "close")], body, name, log)
  finally:
    sock.close()


# ----------------------------------------------------------------------------- main


def wait_for_stop():
  """Runs as a daemon until SIGTERM or SIGINT."""
  stop = threading.Event()
  signal.signal(signal.SIGTERM, lambda *_: stop.set())
  signal.signal(signal.SIGINT, lambda *_: stop.set())
  while not stop.wait(1.0):
    pass


def main(argv):
  parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
  parser.add_argument("--product", choices=["ems", "lsr"], required=True)
  parser.add_argument("--config", required=True)
  parser.add_argument("--log", help="log file (messages also go to stderr)")
  parser.add_argument("--on-demand", action="store_true",
                      help="EMS: dial an edge only when asked through http_server")
  parser.add_argument("--probe", action="store_true",
                      help="EMS: a TCP connect+close to each edge before its handshake")
  try:
    args = parser.parse_args(argv)
  except SystemExit as error:
    return EXIT_USAGE if error.code else EXIT_STOPPED
  if args.product == "lsr" and (args.on_demand or args.probe):
    print("indep_client: --on-demand and --probe are EMS options", file=sys.stderr)
    return EXIT_USAGE
  # Stop cleanly from here on, even while still starting.
  signal.signal(signal.SIGTERM, lambda *_: sys.exit(EXIT_STOPPED))

  log = Log(args.log)
  try:
    if args.product == "ems":
      config = EmsConfig(args.config, log)
    else:
      config = LsrConfig(args.config, log)
  except ConfigError as error:
    log.write("ERROR", str(error))
    return EXIT_CONFIG

  if args.product == "ems":
    ems = Ems(config, log, args.probe)
    if args.on_demand:
      # The listener is up before the platform connection, so a caller that waits for
      # the platform finds it.
      try:
        ems.serve()
      except OSError as error:
        log.write("ERROR", "http_server: cannot listen on %s:%d: %s" %
                  (config.listen_host, config.listen_port, error))
      ems.connect_platform()
    else:
      ems.connect_platform()
      ems.dial_all()
  else:
    run_lsr(config, log)
  wait_for_stop()
  return EXIT_STOPPED


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
