// Waiting for events in tests: for the event itself, with deadlines long
// enough that only an event that never comes fails a test, however loaded
// the machine. Nothing here measures how long something took.
#ifndef LOOKOUT_TESTS_SUPPORT_WAIT_H_
#define LOOKOUT_TESTS_SUPPORT_WAIT_H_

#include <chrono>
#include <thread>

namespace lookout::testing {

/// How long tests wait for something that should happen (a message, a
/// frame, a connection) before they fail.
inline constexpr std::chrono::seconds kEventDeadline{60};

/// Polls `done` every few milliseconds until it returns true or `timeout`
/// passes; returns its last value.
template <typename Predicate>
bool WaitUntil(Predicate done, std::chrono::milliseconds timeout = kEventDeadline) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace lookout::testing

#endif  // LOOKOUT_TESTS_SUPPORT_WAIT_H_
