// lookout_config_doc FILE: rewrites the generated reference block of FILE
// (docs/config.md) with ConfigReferenceMarkdown(), keeping the text around
// it. The block runs from the line starting
// "<!-- BEGIN GENERATED: lookout config reference" to "<!-- END GENERATED -->".
// The build's config_doc target runs it on the source tree's docs/config.md.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>

#include "lookout/config/config.h"

namespace {

constexpr std::string_view kBegin = "<!-- BEGIN GENERATED: lookout config reference";
constexpr std::string_view kEnd = "<!-- END GENERATED -->";

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " FILE.md\n";
    return 2;
  }
  const std::filesystem::path path = argv[1];
  std::ifstream in(path, std::ios::binary);
  std::ostringstream read;
  read << in.rdbuf();
  if (!in) {
    std::cerr << path.string() << ": cannot read\n";
    return 1;
  }
  const std::string text = read.str();

  const size_t begin = text.find(kBegin);
  size_t end = begin == std::string::npos ? begin : text.find(kEnd, begin);
  if (end == std::string::npos) {
    std::cerr << path.string() << ": no generated block (a line starting \"" << kBegin
              << "\", then \"" << kEnd << "\")\n";
    return 1;
  }
  end += kEnd.size();
  if (end < text.size() && text[end] == '\n') ++end;

  const std::string updated =
      text.substr(0, begin) + lookout::config::ConfigReferenceMarkdown() + text.substr(end);
  if (updated == text) {
    std::cout << path.string() << " is up to date\n";
    return 0;
  }
  // Written beside and renamed, so that a failed write leaves the file whole.
  const std::filesystem::path temporary = path.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << updated;
    if (!out.flush()) {
      std::cerr << temporary.string() << ": cannot write\n";
      return 1;
    }
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) {
    std::cerr << path.string() << ": cannot replace: " << ec.message() << "\n";
    return 1;
  }
  std::cout << "updated " << path.string() << "\n";
  return 0;
}
