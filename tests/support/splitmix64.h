// SplitMix64: a fixed, portable pseudo-random sequence for tests and the
// fuzz driver (std distributions differ between standard libraries).
#ifndef LOOKOUT_TESTS_SUPPORT_SPLITMIX64_H_
#define LOOKOUT_TESTS_SUPPORT_SPLITMIX64_H_

#include <cstddef>
#include <cstdint>

namespace lookout::testing {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform-ish in [0, n); 0 when n is 0.
  size_t Below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(Next() % n); }

 private:
  uint64_t state_;
};

}  // namespace lookout::testing

#endif  // LOOKOUT_TESTS_SUPPORT_SPLITMIX64_H_
