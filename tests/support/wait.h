// Waiting for events in tests: for the event itself, with deadlines long
// enough that only an event that never comes fails a test, however loaded
// the machine. Nothing here measures how long something took.
#ifndef LOOKOUT_TESTS_SUPPORT_WAIT_H_
#define LOOKOUT_TESTS_SUPPORT_WAIT_H_

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <future>
#include <thread>

namespace lookout::testing {

/// How long tests wait for something that should happen (a message, a
/// frame, a connection, a call returning) before they fail.
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

/// Runs `call` on a thread of its own and waits up to `deadline` for it to
/// return, rethrowing what it throws: for checking that a blocking call
/// (Stop(), a destructor) comes back at all. The calling thread only waits
/// meanwhile, so `call` never runs concurrently with the rest of the test.
/// If it has not returned by the deadline the process aborts after saying
/// so on stderr, since the call still uses objects the test would otherwise
/// destroy. `call` must not use Catch2 assertions (not thread-safe).
template <typename Call>
void RequireReturns(const char* what, Call call,
                    std::chrono::milliseconds deadline = kEventDeadline) {
  std::promise<void> done;
  std::future<void> returned = done.get_future();
  std::thread thread([&] {
    try {
      call();
      done.set_value();
    } catch (...) {
      done.set_exception(std::current_exception());
    }
  });
  if (returned.wait_for(deadline) != std::future_status::ready) {
    std::fprintf(stderr, "%s did not return within %lld ms; aborting\n", what,
                 static_cast<long long>(deadline.count()));
    std::abort();
  }
  thread.join();
  returned.get();
}

}  // namespace lookout::testing

#endif  // LOOKOUT_TESTS_SUPPORT_WAIT_H_
