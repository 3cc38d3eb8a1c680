// Status and Result<T>: how the runtime reports errors. The runtime never
// throws; a bad model or a bad call comes back as a Status whose message names
// what is wrong ("node 27 (DEPTHWISE_CONV_2D): filter quantized_dimension 0,
// expected 3").
#ifndef LOOKOUT_RUNTIME_STATUS_H_
#define LOOKOUT_RUNTIME_STATUS_H_

#include <cstdio>
#include <optional>
#include <string>
#include <utility>

namespace lookout::runtime {

/// Outcome of a runtime call: ok, or an error with a human-readable message.
class [[nodiscard]] Status {
 public:
  /// Success.
  Status() = default;
  /// An error with `message`.
  static Status Error(std::string message) { return Status(std::move(message)); }
  /// An error built printf-style.
  template <typename... Args>
  static Status Errorf(const char* format, Args... args) {
    char buffer[512];
    std::snprintf(buffer, sizeof(buffer), format, args...);
    return Status(std::string(buffer));
  }

  /// True on success.
  bool ok() const { return !message_.has_value(); }
  /// The error message; empty on success.
  const std::string& message() const {
    static const std::string kEmpty;
    return message_ ? *message_ : kEmpty;
  }

 private:
  explicit Status(std::string message) : message_(std::move(message)) {}
  std::optional<std::string> message_;
};

/// A value of type T, or the Status saying why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  T& operator*() { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace lookout::runtime

/// Returns the Status of `expr` from the enclosing function if it is an error.
#define LOOKOUT_RETURN_IF_ERROR(expr)                  \
  do {                                                 \
    ::lookout::runtime::Status lookout_status_ = (expr); \
    if (!lookout_status_.ok()) return lookout_status_; \
  } while (0)

#endif  // LOOKOUT_RUNTIME_STATUS_H_
