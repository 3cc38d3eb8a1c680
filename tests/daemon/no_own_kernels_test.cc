// LOOKOUT_NO_OWN_KERNELS as the programs turn it into InterpreterOptions
// (the runtime library itself reads no environment).
#include "support/catch_compat.h"

#include "cli/model_tools.h"
#include "lookout/runtime/interpreter.h"

namespace lr = lookout::runtime;
using lookout::daemon::ApplyNoOwnKernels;

TEST_CASE("LOOKOUT_NO_OWN_KERNELS: unset, empty or 0 change nothing", "[tools][kernels]") {
  for (const char* value : {static_cast<const char*>(nullptr), "", "0"}) {
    INFO((value ? value : "(unset)"));
    lr::InterpreterOptions options;
    options.num_threads = 3;
    ApplyNoOwnKernels(value, &options);
    CHECK(options.kernels == lr::KernelFamilies::All());
    CHECK(options.own_kernels == lr::OwnKernelOptions{});
    CHECK(options.num_threads == 3);
  }
}

TEST_CASE("LOOKOUT_NO_OWN_KERNELS=1 leaves out our own x86 and Arm families only", "[tools][kernels]") {
  for (const char* value : {"1", "yes", "bogus,names"}) {
    INFO(value);
    lr::InterpreterOptions options;
    ApplyNoOwnKernels(value, &options);
    CHECK_FALSE(options.kernels.contains(lr::KernelFamily::kOwnX86));
    CHECK_FALSE(options.kernels.contains(lr::KernelFamily::kOwnArm));
    CHECK(options.kernels.contains(lr::KernelFamily::kXnnpack));
    CHECK(options.kernels.contains(lr::KernelFamily::kLookupTable));
    CHECK(options.kernels.contains(lr::KernelFamily::kReference));
  }
  // On the reference preset there is nothing more to leave out.
  lr::InterpreterOptions reference;
  reference.kernels = lr::KernelFamilies::ReferenceOnly();
  ApplyNoOwnKernels("1", &reference);
  CHECK(reference.kernels == lr::KernelFamilies::ReferenceOnly());
}

TEST_CASE("LOOKOUT_NO_OWN_KERNELS as a list turns off the switches it names", "[tools][kernels]") {
  lr::InterpreterOptions options;
  ApplyNoOwnKernels("dot,defer", &options);
  CHECK(options.kernels == lr::KernelFamilies::All());
  CHECK(options.own_kernels.pointwise);
  CHECK(options.own_kernels.depthwise);
  CHECK(options.own_kernels.mul);
  CHECK_FALSE(options.own_kernels.dot_product);
  CHECK_FALSE(options.own_kernels.defer_to_xnnpack);

  lr::InterpreterOptions some;
  ApplyNoOwnKernels("pointwise,unknown,mul", &some);
  CHECK(some.kernels == lr::KernelFamilies::All());
  CHECK_FALSE(some.own_kernels.pointwise);
  CHECK(some.own_kernels.depthwise);
  CHECK_FALSE(some.own_kernels.mul);
  CHECK(some.own_kernels.dot_product);
  CHECK(some.own_kernels.defer_to_xnnpack);

  lr::InterpreterOptions depthwise;
  ApplyNoOwnKernels("depthwise", &depthwise);
  CHECK_FALSE(depthwise.own_kernels.depthwise);
  CHECK(depthwise.own_kernels.pointwise);
}
