// For tests only: reach into an Interpreter to replace a node's kernel, so
// that a test can make a kernel fail and see what Invoke() does with it.
#ifndef LOOKOUT_RUNTIME_SRC_INTERPRETER_TESTING_H_
#define LOOKOUT_RUNTIME_SRC_INTERPRETER_TESTING_H_

#include <cstddef>
#include <memory>

#include "lookout/runtime/interpreter.h"
#include "src/graph.h"

namespace lookout::runtime::internal {

struct InterpreterTesting {
  /// Replaces node `index`'s kernel (after AllocateTensors(); the node keeps
  /// its tensors) and returns the one it had; nullptr when there is no such
  /// node (`kernel` is then dropped).
  static std::unique_ptr<OpKernel> ReplaceKernel(Interpreter& interpreter, size_t index,
                                                 std::unique_ptr<OpKernel> kernel);
};

}  // namespace lookout::runtime::internal

#endif  // LOOKOUT_RUNTIME_SRC_INTERPRETER_TESTING_H_
