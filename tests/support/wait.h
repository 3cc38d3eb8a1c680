// Waiting for events in tests: polling for the event itself, up to a
// deadline.
#ifndef LOOKOUT_TESTS_SUPPORT_WAIT_H_
#define LOOKOUT_TESTS_SUPPORT_WAIT_H_

#include <chrono>
#include <thread>

namespace lookout::testing {

/// Polls `done` every few milliseconds until it returns true or `timeout`
/// passes; returns its last value.
template <typename Predicate>
bool WaitUntil(Predicate done, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace lookout::testing

#endif  // LOOKOUT_TESTS_SUPPORT_WAIT_H_
