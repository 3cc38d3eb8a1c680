// The model fuzz target: arbitrary bytes through Model::FromBuffer ->
// Interpreter::Create -> AllocateTensors -> Invoke, on the reference backend
// and on the xnnpack backend with and without Lookout's own kernels.
// bin/model_fuzzer links it with libFuzzer; the CTest driver (fuzz_driver.cc)
// calls the same LLVMFuzzerTestOneInput from its own main().
#ifndef LOOKOUT_TESTS_FUZZ_MODEL_FUZZER_H_
#define LOOKOUT_TESTS_FUZZ_MODEL_FUZZER_H_

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace lookout::fuzz {

/// How far one backend got with an input.
enum class Stage {
  kLoad,      ///< Model::FromBuffer refused it.
  kCreate,    ///< Interpreter::Create refused it.
  kAllocate,  ///< AllocateTensors refused it.
  kSkipped,   ///< Allocated, but its planned work is over the fuzzing budget: not invoked.
  kInvoked,   ///< Ran Invoke().
};

/// Interpreter configurations, in the order the target runs them: the
/// reference backend; the xnnpack backend as it runs by default (Lookout's
/// own kernels where the CPU has them, XNNPACK's operators, lookup tables);
/// the xnnpack backend without Lookout's own kernel families (XNNPACK's
/// operators wherever they apply).
inline constexpr int kConfigs = 3;

/// What the last LLVMFuzzerTestOneInput call reached in each configuration
/// and the first refusal message, for the driver's statistics.
struct Outcome {
  Stage stage[kConfigs] = {Stage::kLoad, Stage::kLoad, Stage::kLoad};
  const char* message = "";  ///< Valid until the next call.
};
const Outcome& LastOutcome();

/// Name of a stage ("load", ..., "invoked").
const char* StageName(Stage stage);

}  // namespace lookout::fuzz

#endif  // LOOKOUT_TESTS_FUZZ_MODEL_FUZZER_H_
