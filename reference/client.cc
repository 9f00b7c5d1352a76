#include "reference/client.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include "base/files.h"
#include "base/json_text.h"
#include "reference/mutant.h"

namespace fpconform::ref {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxResponseBytes = 64 * 1024;

// Wait: how waiting for a descriptor ended.
enum class Wait { kReady, kTimeout, kCancelled };

// WaitFor waits until `fd` has one of `events`, `deadline` passes, or `cancel_fd` becomes
// readable (checked first, so a cancellation is never missed).
Wait WaitFor(int fd, short events, Clock::time_point deadline, int cancel_fd) {
  while (true) {
    Clock::time_point now = Clock::now();
    pollfd fds[2] = {{fd, events, 0}, {cancel_fd, POLLIN, 0}};
    nfds_t count = cancel_fd >= 0 ? 2 : 1;
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
    int timeout_ms = static_cast<int>(std::max<int64_t>(0, left.count()));
    int ready = poll(fds, count, timeout_ms);
    if (ready < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Wait::kReady;  // the next operation on `fd` reports the problem
    }
    if (count == 2 && fds[1].revents != 0) {
      return Wait::kCancelled;
    }
    if (ready > 0 && fds[0].revents != 0) {
      return Wait::kReady;
    }
    if (now >= deadline) {
      return Wait::kTimeout;
    }
  }
}

std::string Milliseconds(std::chrono::milliseconds timeout) {
  return std::to_string(timeout.count()) + " ms";
}

// Attempt: the state of one exchange while it runs.
struct Attempt {
  const ExchangeOptions& options;
  ExchangeResult result;

  // Fail records a connection that was not accepted and returns false.
  bool Fail(RejectReason reason, std::string text) {
    result.decision.accepted = false;
    result.decision.reason = reason;
    result.decision.text = std::move(text);
    return false;
  }
  // Cancel records the cancellation and returns false.
  bool Cancel() {
    result.cancelled = true;
    if (result.decision.accepted) {
      result.problem = "cancelled";
      return false;
    }
    return Fail(RejectReason::kTimeout, "cancelled");
  }
  Clock::time_point Deadline() const { return Clock::now() + options.timeout; }
};

// ConnectTcp connects a non-blocking socket to the first address of host:port that
// answers. Returns an invalid UniqueFd after recording why in `attempt`.
UniqueFd ConnectTcp(const std::string& host, int port, Attempt& attempt) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  if (host.find('\0') != std::string::npos) {
    attempt.Fail(RejectReason::kUnreachable,
                 "cannot resolve " + Printable(host) + ": the name holds a NUL byte");
    return UniqueFd();
  }
  addrinfo* found = nullptr;
  std::string service = std::to_string(port);
  int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
  if (rc != 0) {
    attempt.Fail(RejectReason::kUnreachable,
                 "cannot resolve " + Printable(host) + ": " + std::string(gai_strerror(rc)));
    return UniqueFd();
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> addresses(found, freeaddrinfo);
  const Clock::time_point deadline = attempt.Deadline();
  std::string last_error = "no address";
  for (const addrinfo* ai = addresses.get(); ai != nullptr; ai = ai->ai_next) {
    UniqueFd fd(
        socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    if (fd.get() < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    // The request follows the handshake's last flight at once: without TCP_NODELAY, Nagle's
    // algorithm holds it until the server's delayed ACK (about 40 ms on Linux).
    const int one = 1;
    setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd.get(), ai->ai_addr, ai->ai_addrlen) == 0) {
      return fd;
    }
    if (errno != EINPROGRESS) {
      last_error = std::strerror(errno);
      continue;
    }
    switch (WaitFor(fd.get(), POLLOUT, deadline, attempt.options.cancel_fd)) {
      case Wait::kCancelled:
        attempt.Cancel();
        return UniqueFd();
      case Wait::kTimeout:
        attempt.Fail(RejectReason::kTimeout,
                     "no TCP connection within " + Milliseconds(attempt.options.timeout));
        return UniqueFd();
      case Wait::kReady:
        break;
    }
    int error = 0;
    socklen_t length = sizeof(error);
    if (getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
      error = errno;
    }
    if (error == 0) {
      return fd;
    }
    last_error = std::strerror(error);
  }
  attempt.Fail(RejectReason::kUnreachable, last_error);
  return UniqueFd();
}

// Stream: the request and response I/O over plain TCP or TLS, each call bounded.
class Stream {
 public:
  Stream(int fd, SSL* ssl, Attempt& attempt) : fd_(fd), ssl_(ssl), attempt_(attempt) {}

  // WriteAll sends every byte of `data`; returns false after recording a problem.
  bool WriteAll(std::string_view data) {
    const Clock::time_point deadline = attempt_.Deadline();
    size_t sent = 0;
    while (sent < data.size()) {
      short events = POLLOUT;
      if (ssl_ != nullptr) {
        size_t written = 0;
        int rc = SSL_write_ex(ssl_, data.data() + sent, data.size() - sent, &written);
        if (rc == 1) {
          sent += written;
          continue;
        }
        int error = SSL_get_error(ssl_, rc);
        if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
          return Problem("sending the request failed: " + OpenSslErrors());
        }
        events = error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
      } else {
        ssize_t n = send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
        if (n > 0) {
          sent += static_cast<size_t>(n);
          continue;
        }
        if (n < 0 && errno == EINTR) {
          continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
          return Problem(std::string("sending the request failed: ") + std::strerror(errno));
        }
      }
      if (!Await(events, deadline, "sending the request")) {
        return false;
      }
    }
    return true;
  }

  // ReadResponse reads the response head, and the body when Content-Length announces one
  // (not after a 101), until the end of the stream or kMaxResponseBytes. Returns false
  // after recording a problem.
  bool ReadResponse() {
    const Clock::time_point deadline = attempt_.Deadline();
    std::string response;
    char buffer[4096];
    while (response.size() < kMaxResponseBytes && !Complete(response)) {
      short events = POLLIN;
      if (ssl_ != nullptr) {
        size_t got = 0;
        int rc = SSL_read_ex(ssl_, buffer, sizeof(buffer), &got);
        if (rc == 1) {
          response.append(buffer, got);
          continue;
        }
        int error = SSL_get_error(ssl_, rc);
        if (error == SSL_ERROR_ZERO_RETURN) {
          break;  // close_notify
        }
        if (error == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
          ERR_clear_error();
          break;  // EOF or reset without close_notify: keep what arrived
        }
        if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
          SetStatusLine(response);
          return Problem("reading the response failed: " + OpenSslErrors());
        }
        events = error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
      } else {
        ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
        if (n > 0) {
          response.append(buffer, static_cast<size_t>(n));
          continue;
        }
        if (n == 0) {
          break;
        }
        if (errno == EINTR) {
          continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          break;  // a reset: keep what arrived
        }
      }
      if (!Await(events, deadline, "reading the response")) {
        SetStatusLine(response);
        return false;
      }
    }
    SetStatusLine(response);
    if (attempt_.result.status_line.empty()) {
      return Problem("no response");
    }
    return true;
  }

 private:
  bool Problem(std::string text) {
    attempt_.result.problem = std::move(text);
    return false;
  }

  bool Await(short events, Clock::time_point deadline, const char* what) {
    switch (WaitFor(fd_, events, deadline, attempt_.options.cancel_fd)) {
      case Wait::kReady:
        return true;
      case Wait::kCancelled:
        return attempt_.Cancel();
      case Wait::kTimeout:
        return Problem(std::string(what) + ": nothing within " +
                       Milliseconds(attempt_.options.timeout));
    }
    return false;
  }

  void SetStatusLine(const std::string& response) {
    size_t end = response.find_first_of("\r\n");
    attempt_.result.status_line = response.substr(0, std::min<size_t>(end, 200));
  }

  // Complete tells whether `response` holds the whole head and announced body.
  static bool Complete(const std::string& response) {
    size_t head_end = response.find("\r\n\r\n");
    if (head_end == std::string::npos) {
      return false;
    }
    std::string head = response.substr(0, head_end);
    if (head.compare(0, 12, "HTTP/1.1 101") == 0) {
      return true;
    }
    std::string lower = head;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    size_t field = lower.find("\r\ncontent-length:");
    if (field == std::string::npos) {
      return false;  // read until the server closes
    }
    size_t length = std::strtoul(head.c_str() + field + 17, nullptr, 10);
    return response.size() >= head_end + 4 + length;
  }

  int fd_;
  SSL* ssl_;
  Attempt& attempt_;
};

// Handshake runs the TLS handshake on `ssl`; the verification step fills `verified`.
// Returns true when the server was accepted, false after recording why not.
bool Handshake(SSL* ssl, int fd, const std::optional<Decision>& verified, Attempt& attempt) {
  const Clock::time_point deadline = attempt.Deadline();
  while (true) {
    ERR_clear_error();
    int rc = SSL_connect(ssl);
    if (rc == 1) {
      break;
    }
    int error = SSL_get_error(ssl, rc);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
      switch (WaitFor(fd, error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline,
                      attempt.options.cancel_fd)) {
        case Wait::kReady:
          continue;
        case Wait::kCancelled:
          return attempt.Cancel();
        case Wait::kTimeout:
          return attempt.Fail(RejectReason::kTimeout,
                              "no TLS handshake within " + Milliseconds(attempt.options.timeout));
      }
    }
    if (verified.has_value() && !verified->accepted) {
      ERR_clear_error();
      attempt.result.decision = *verified;  // the verification step said no
      return false;
    }
    std::string why = ERR_peek_error() != 0        ? OpenSslErrors()
                      : error == SSL_ERROR_SYSCALL ? std::string("the server closed the connection")
                                                   : "SSL error " + std::to_string(error);
    return attempt.Fail(RejectReason::kTls, "TLS handshake failed: " + why);
  }
  if (!verified.has_value()) {
    // Never proceed on a certificate nobody judged.
    return attempt.Fail(RejectReason::kNoCertificate, "the server's certificate was not verified");
  }
  attempt.result.decision = *verified;
  return verified->accepted;
}

// Drain reads what is already queued on `fd`, so that closing it sends a FIN, not a reset.
void Drain(int fd) {
  char buffer[4096];
  for (int i = 0; i < 16; ++i) {
    if (recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT) <= 0) {
      return;
    }
  }
}

}  // namespace

ExchangeResult Exchange(const std::string& host, int port, const TlsClientContext* tls,
                        std::string_view request, const ExchangeOptions& options) {
  Attempt attempt{options, {}};
  if constexpr (kMutant == Mutant::kTcpProbe) {
    // Variant: a health check before each TLS connection: a TCP connection opened and closed
    // at once, no byte sent.
    if (tls != nullptr) {
      Attempt probe{options, {}};
      UniqueFd closed_at_once = ConnectTcp(host, port, probe);
    }
  }
  UniqueFd fd = ConnectTcp(host, port, attempt);
  if (fd.get() < 0) {
    return std::move(attempt.result);
  }
  if (tls == nullptr) {
    attempt.result.decision.accepted = true;
    attempt.result.decision.text = "plain HTTP, not checked";
    Stream stream(fd.get(), nullptr, attempt);
    if (stream.WriteAll(request)) {
      (void)stream.ReadResponse();
    }
    Drain(fd.get());
    return std::move(attempt.result);
  }

  std::optional<Decision> verified;
  Result<UniquePtr<SSL>> ssl = tls->NewSsl(&verified, host);
  if (!ssl.ok()) {
    attempt.Fail(RejectReason::kTls, ssl.error().message);
    return std::move(attempt.result);
  }
  if (SSL_set_fd(ssl->get(), fd.get()) != 1) {
    attempt.Fail(RejectReason::kTls, "SSL_set_fd: " + OpenSslErrors());
    return std::move(attempt.result);
  }
  const bool accepted = Handshake(ssl->get(), fd.get(), verified, attempt);
  if (accepted) {
    Stream stream(fd.get(), ssl->get(), attempt);
    if (stream.WriteAll(request)) {
      (void)stream.ReadResponse();
    }
    // One close_notify, without waiting for the server's.
    (void)SSL_shutdown(ssl->get());
  }
  if constexpr (kMutant == Mutant::kRequestBeforeCheck) {
    // Mutant: the request goes out as soon as the handshake is done; the fingerprint
    // verdict (verify.cc let the handshake complete) is looked at afterwards, and the
    // connection closed.
    if (!accepted && SSL_is_init_finished(ssl->get()) == 1) {
      Stream stream(fd.get(), ssl->get(), attempt);
      (void)stream.WriteAll(request);
      (void)SSL_shutdown(ssl->get());
    }
  }
  ERR_clear_error();
  Drain(fd.get());
  return std::move(attempt.result);
}

std::string WebSocketKey() {
  unsigned char nonce[16];
  if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
    // Not a secret: any value serves the upgrade request.
    std::memset(nonce, 0x5a, sizeof(nonce));
  }
  unsigned char encoded[32];
  int length = EVP_EncodeBlock(encoded, nonce, sizeof(nonce));
  return std::string(reinterpret_cast<char*>(encoded), static_cast<size_t>(length));
}

}  // namespace fpconform::ref
