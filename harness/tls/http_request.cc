#include "harness/tls/http_request.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>

namespace fpconform::harness {
namespace {

constexpr std::string_view kWebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

std::string Base64(const unsigned char* data, size_t len) {
  std::string out(4 * ((len + 2) / 3) + 1, '\0');
  int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(len));
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

char Lower(char ch) { return (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch; }

std::string LowerCase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), Lower);
  return out;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace

std::string FirstRequestLine(std::string_view head) {
  size_t line_end = head.find('\n');
  std::string_view line = head.substr(0, std::min(line_end, kMaxRequestLine));
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  return std::string(line);
}

size_t FindRequestHeadEnd(std::string_view head, size_t from) {
  size_t end = head.find("\r\n\r\n", from);
  if (end != std::string_view::npos) {
    return end + 4;
  }
  end = head.find("\n\n", from);
  if (end != std::string_view::npos) {
    return end + 2;
  }
  return std::string_view::npos;
}

RequestHeaders ParseRequestHeaders(std::string_view head) {
  RequestHeaders headers;
  size_t pos = head.find('\n');
  while (pos != std::string_view::npos && pos + 1 < head.size()) {
    size_t start = pos + 1;
    pos = head.find('\n', start);
    std::string_view line =
        head.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      continue;
    }
    std::string name = LowerCase(Trim(line.substr(0, colon)));
    std::string_view value = Trim(line.substr(colon + 1));
    if (name == "upgrade" && LowerCase(value).find("websocket") != std::string::npos) {
      headers.upgrade_websocket = true;
    } else if (name == "sec-websocket-key") {
      headers.websocket_key = std::string(value);
    }
  }
  return headers;
}

std::string WebSocketAccept(std::string_view key) {
  std::string input(key);
  input += kWebSocketGuid;
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  return Base64(digest, sizeof(digest));
}

HttpReply ReplyTo(std::string_view head) {
  RequestHeaders headers = ParseRequestHeaders(head);
  HttpReply reply;
  reply.websocket_upgrade = headers.upgrade_websocket;
  if (headers.upgrade_websocket && !headers.websocket_key.empty()) {
    reply.response =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " +
        WebSocketAccept(headers.websocket_key) + "\r\n\r\n";
    reply.keep_open = true;
    return reply;
  }
  reply.response =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
      "Connection: close\r\n\r\nok\n";
  return reply;
}

}  // namespace fpconform::harness
