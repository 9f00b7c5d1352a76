// The HTTP side of a TLS test server: the first request line it records, where a request
// head ends, the two headers it acts on, and the response it sends. Pure functions over the
// bytes received so far; the server (tls_server.cc) only moves bytes.
#ifndef FPCONFORM_HARNESS_TLS_HTTP_REQUEST_H_
#define FPCONFORM_HARNESS_TLS_HTTP_REQUEST_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace fpconform::harness {

// kMaxRequestHead bounds the request head a server keeps; a longer one gets
// kHeadTooLargeResponse.
inline constexpr size_t kMaxRequestHead = 16 * 1024;
// kMaxRequestLine bounds the first request line a server records.
inline constexpr size_t kMaxRequestLine = 512;

// kHeadTooLargeResponse: the answer to a head of kMaxRequestHead bytes without its end.
inline constexpr std::string_view kHeadTooLargeResponse =
    "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n"
    "Connection: close\r\n\r\n";

// FirstRequestLine returns the first line of `head` without its CR LF (or bare LF), cut at
// kMaxRequestLine bytes; an unfinished line is returned as far as it goes.
std::string FirstRequestLine(std::string_view head);

// FindRequestHeadEnd returns the offset just past the blank line that ends the request head
// (CR LF CR LF, else a bare LF LF), looking from offset `from` on; npos while the head is
// unfinished.
size_t FindRequestHeadEnd(std::string_view head, size_t from);

// RequestHeaders: the two headers the server acts on.
struct RequestHeaders {
  bool upgrade_websocket = false;  // an Upgrade header naming websocket (any case)
  std::string websocket_key;       // Sec-WebSocket-Key, trimmed; empty when absent
};

// ParseRequestHeaders reads the header lines of `head` (the request line skipped); header
// names are matched without regard to case, and lines without a colon are ignored.
RequestHeaders ParseRequestHeaders(std::string_view head);

// WebSocketAccept returns the Sec-WebSocket-Accept value for `key` (RFC 6455 section 4.2.2:
// base64 of the SHA-1 of the key and the protocol's GUID).
std::string WebSocketAccept(std::string_view key);

// HttpReply: how a server answers one complete request head.
struct HttpReply {
  std::string response;            // the bytes to send
  bool websocket_upgrade = false;  // the request asked for Upgrade: websocket
  bool keep_open = false;          // 101 sent: the connection stays open afterwards
};

// ReplyTo answers a complete request head: 101 Switching Protocols with the accept value
// for a WebSocket upgrade that carries a key, otherwise 200 OK ("ok\n", Connection: close).
HttpReply ReplyTo(std::string_view head);

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_TLS_HTTP_REQUEST_H_
