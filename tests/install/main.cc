// Loads a model with the installed runtime, fills input 0 with mid-grey
// bytes, invokes, and prints the top class of output 0 and its byte value.
#include <cstdio>
#include <cstring>

#include "lookout/runtime/interpreter.h"
#include "lookout/runtime/model.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s MODEL.tflite\n", argv[0]);
    return 2;
  }
  namespace lr = lookout::runtime;
  auto model = lr::Model::FromFile(argv[1]);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", model.status().message().c_str());
    return 1;
  }
  auto interpreter = lr::Interpreter::Create(*model);
  if (!interpreter.ok()) {
    std::fprintf(stderr, "%s\n", interpreter.status().message().c_str());
    return 1;
  }
  lr::Interpreter& in = **interpreter;
  if (lr::Status s = in.AllocateTensors(); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.message().c_str());
    return 1;
  }
  auto input = in.input_data(0);
  std::memset(input.data(), 128, input.size());
  if (lr::Status s = in.Invoke(); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.message().c_str());
    return 1;
  }
  auto output = in.output_data(0);
  size_t best = 0;
  for (size_t i = 1; i < output.size(); ++i) {
    if (output[i] > output[best]) best = i;
  }
  std::printf("nodes %zu, outputs %zu, top class %zu (%u)\n", in.node_count(), output.size(), best,
              static_cast<unsigned>(output[best]));
  return 0;
}
