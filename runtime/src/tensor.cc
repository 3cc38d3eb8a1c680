#include "lookout/runtime/tensor.h"

namespace lookout::runtime {

std::string DataTypeName(DataType type) {
  switch (type) {
    case DataType::kFloat32: return "FLOAT32";
    case DataType::kFloat16: return "FLOAT16";
    case DataType::kInt32: return "INT32";
    case DataType::kUInt8: return "UINT8";
    case DataType::kInt64: return "INT64";
    case DataType::kString: return "STRING";
    case DataType::kBool: return "BOOL";
    case DataType::kInt16: return "INT16";
    case DataType::kComplex64: return "COMPLEX64";
    case DataType::kInt8: return "INT8";
    case DataType::kFloat64: return "FLOAT64";
  }
  return "UNKNOWN(" + std::to_string(static_cast<int>(type)) + ")";
}

size_t DataTypeSize(DataType type) {
  switch (type) {
    case DataType::kFloat32: return 4;
    case DataType::kFloat16: return 2;
    case DataType::kInt32: return 4;
    case DataType::kUInt8: return 1;
    case DataType::kInt64: return 8;
    case DataType::kBool: return 1;
    case DataType::kInt16: return 2;
    case DataType::kComplex64: return 8;
    case DataType::kInt8: return 1;
    case DataType::kFloat64: return 8;
    case DataType::kString: return 0;
  }
  return 0;
}

std::string ShapeString(const std::vector<int32_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

}  // namespace lookout::runtime
