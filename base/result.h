// Result<T>: the value of a library call, or an Error saying why there is none.
//
// Library functions in fpconform never let exceptions cross their API. They return
// Result<T> (or Status for calls without a value); `main` functions map errors to exit
// statuses.
#ifndef FPCONFORM_BASE_RESULT_H_
#define FPCONFORM_BASE_RESULT_H_

#include <string>
#include <utility>
#include <variant>

namespace fpconform {

// ErrorCode: the broad class of an error; the message says the rest.
enum class ErrorCode {
  kInvalidInput,  // bad data from a file or a caller: a configuration, a description
  kNotFound,      // a named thing (file, certificate, fixture) does not exist
  kIo,            // reading, writing, sockets, processes
  kCrypto,        // OpenSSL refused an operation
  kTimeout,       // a bounded wait ran out
  kInternal,      // a bug in fpconform
};

// ErrorCodeName returns a short lower-case name for `code`, for messages and reports.
const char* ErrorCodeName(ErrorCode code);

// Error: a failure with a one-line message that names what failed and why.
struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

// Result<T> holds a T or an Error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : data_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return data_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(data_); }
  const T& value() const& { return std::get<0>(data_); }
  T&& value() && { return std::get<0>(std::move(data_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(data_); }
  Error&& take_error() { return std::get<1>(std::move(data_)); }

 private:
  std::variant<T, Error> data_;
};

// Status: a Result without a value.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  static Status Ok() { return Status(); }
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }
  Error&& take_error() { return std::move(error_); }

 private:
  Error error_;
  bool ok_ = true;
};

// MakeError builds an Error from a code and a message.
inline Error MakeError(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

// Prefixed returns `error` with "prefix: " in front of its message, so that a caller can
// add the file or field it was working on.
inline Error Prefixed(const std::string& prefix, Error error) {
  error.message = prefix + ": " + error.message;
  return error;
}

inline const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidInput:
      return "invalid input";
    case ErrorCode::kNotFound:
      return "not found";
    case ErrorCode::kIo:
      return "i/o error";
    case ErrorCode::kCrypto:
      return "crypto error";
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kInternal:
      return "internal error";
  }
  return "error";
}

}  // namespace fpconform

#endif  // FPCONFORM_BASE_RESULT_H_
