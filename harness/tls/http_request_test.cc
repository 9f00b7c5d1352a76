// The HTTP side of the TLS test servers, without sockets: request lines, where a head ends,
// the headers acted on, and the reply.
#include "harness/tls/http_request.h"

#include <gtest/gtest.h>

#include <string>

namespace fpconform::harness {
namespace {

TEST(HttpRequestTest, FirstRequestLineIsBoundedAndKeptUnfinished) {
  struct Case {
    const char* name;
    std::string head;
    std::string want;
  };
  const Case cases[] = {
      {"CR LF", "GET /path HTTP/1.1\r\nHost: x\r\n\r\n", "GET /path HTTP/1.1"},
      {"bare LF", "GET /lf HTTP/1.0\n\n", "GET /lf HTTP/1.0"},
      {"unfinished", "GET /partial HT", "GET /partial HT"},
      {"CR not yet followed by LF", "GET / HTTP/1.1\r", "GET / HTTP/1.1"},
      {"empty", "", ""},
      {"blank first line", "\r\nGET / HTTP/1.1\r\n", ""},
      {"512 bytes exactly", std::string(512, 'a') + "\r\n", std::string(512, 'a')},
      {"long line cut", "GET /" + std::string(1000, 'a') + " HTTP/1.1\r\n\r\n",
       "GET /" + std::string(507, 'a')},
      {"CR at the cut", std::string(511, 'a') + "\r" + std::string(10, 'b'), std::string(511, 'a')},
      {"binary bytes kept", std::string("G\0T \x01\xff\r\n", 8), std::string("G\0T \x01\xff", 6)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(FirstRequestLine(c.head), c.want);
    EXPECT_LE(FirstRequestLine(c.head).size(), kMaxRequestLine);
  }
}

TEST(HttpRequestTest, FindRequestHeadEndNeedsABlankLine) {
  constexpr size_t npos = std::string::npos;
  struct Case {
    const char* name;
    std::string head;
    size_t from;
    size_t want;
  };
  const Case cases[] = {
      {"CR LF CR LF", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0, 27},
      {"bytes after the head", "GET / HTTP/1.1\r\n\r\nbody", 0, 18},
      {"bare LF LF", "GET / HTTP/1.0\n\n", 0, 16},
      {"CR LF CR LF before LF LF", "A\r\n\r\nB\n\n", 0, 5},
      // CR LF CR LF is looked for first, wherever it is.
      {"LF LF before CR LF CR LF", "A\n\nB\r\n\r\n", 0, 8},
      {"unfinished", "GET / HTTP/1.1\r\nHost: x\r\n", 0, npos},
      {"one line end only", "GET / HTTP/1.1\r\n", 0, npos},
      {"CR CR is not an end", "GET / HTTP/1.1\r\r", 0, npos},
      {"empty", "", 0, npos},
      {"end spanning the search start", "GET / HTTP/1.1\r\n\r\n", 14, 18},
      {"end before the search start", "A\r\n\r\nB", 3, npos},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(FindRequestHeadEnd(c.head, c.from), c.want);
  }
}

TEST(HttpRequestTest, ParseRequestHeadersReadsUpgradeAndKey) {
  struct Case {
    const char* name;
    std::string head;
    bool want_upgrade;
    std::string want_key;
  };
  const Case cases[] = {
      {"plain GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", false, ""},
      {"upgrade with key",
       "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nSec-WebSocket-Key: abc==\r\n\r\n", true, "abc=="},
      {"names and value in any case",
       "GET / HTTP/1.1\r\nUPGRADE: WebSocket\r\nsec-websocket-KEY: k\r\n\r\n", true, "k"},
      {"white space trimmed",
       "GET / HTTP/1.1\r\n Upgrade :\t websocket \r\nSec-WebSocket-Key:  k2 \t\r\n", true, "k2"},
      {"bare LF lines", "GET / HTTP/1.1\nUpgrade: websocket\nSec-WebSocket-Key: k3\n\n", true,
       "k3"},
      {"upgrade to something else", "GET / HTTP/1.1\r\nUpgrade: h2c\r\n\r\n", false, ""},
      {"upgrade listing websocket", "GET / HTTP/1.1\r\nUpgrade: foo, websocket\r\n\r\n", true, ""},
      {"key without upgrade", "GET / HTTP/1.1\r\nSec-WebSocket-Key: k\r\n\r\n", false, "k"},
      {"request line is not a header", "Upgrade: websocket\r\n\r\n", false, ""},
      {"line without a colon ignored", "GET / HTTP/1.1\r\nUpgrade websocket\r\n\r\n", false, ""},
      {"last key wins", "GET / HTTP/1.1\r\nSec-WebSocket-Key: a\r\nSec-WebSocket-Key: b\r\n\r\n",
       false, "b"},
      {"unfinished last line", "GET / HTTP/1.1\r\nUpgrade: websocket", true, ""},
      {"empty", "", false, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    RequestHeaders headers = ParseRequestHeaders(c.head);
    EXPECT_EQ(headers.upgrade_websocket, c.want_upgrade);
    EXPECT_EQ(headers.websocket_key, c.want_key);
  }
}

TEST(HttpRequestTest, WebSocketAcceptFollowsRfc6455) {
  // RFC 6455 section 1.3's example key and accept value.
  EXPECT_EQ(WebSocketAccept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_EQ(WebSocketAccept("").size(), 28u);
}

TEST(HttpRequestTest, ReplyToAnswersUpgradesAndEverythingElse) {
  struct Case {
    const char* name;
    std::string head;
    std::string want_start;
    bool want_upgrade;
    bool want_keep_open;
  };
  const Case cases[] = {
      {"GET", "GET /x HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\n", false, false},
      {"upgrade with key",
       "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nSec-WebSocket-Key: "
       "dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
       "HTTP/1.1 101 Switching Protocols\r\n", true, true},
      {"upgrade without key", "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
       "HTTP/1.1 200 OK\r\n", true, false},
      {"not HTTP at all", "\x16\x03\x01 garbage\n\n", "HTTP/1.1 200 OK\r\n", false, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    HttpReply reply = ReplyTo(c.head);
    EXPECT_EQ(reply.response.rfind(c.want_start, 0), 0u) << reply.response;
    EXPECT_EQ(reply.websocket_upgrade, c.want_upgrade);
    EXPECT_EQ(reply.keep_open, c.want_keep_open);
    if (c.want_keep_open) {
      EXPECT_NE(reply.response.find("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
                std::string::npos)
          << reply.response;
      EXPECT_NE(reply.response.find("\r\nUpgrade: websocket\r\n"), std::string::npos);
    } else {
      EXPECT_NE(reply.response.find("\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"),
                std::string::npos)
          << reply.response;
    }
    EXPECT_EQ(reply.response.substr(reply.response.size() - (c.want_keep_open ? 4 : 7)),
              c.want_keep_open ? "\r\n\r\n" : "\r\n\r\nok\n");
  }
  EXPECT_EQ(kHeadTooLargeResponse.rfind("HTTP/1.1 431 ", 0), 0u);
}

}  // namespace
}  // namespace fpconform::harness
