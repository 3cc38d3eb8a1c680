// A small public-key infrastructure for the MQTT-over-TLS tests, made with
// the `openssl` command-line tool: a CA, a server certificate for
// 127.0.0.1/localhost and a client certificate signed by it, and a second,
// unrelated CA that a client can wrongly trust.
#ifndef LOOKOUT_TESTS_SUPPORT_TLS_CERTS_H_
#define LOOKOUT_TESTS_SUPPORT_TLS_CERTS_H_

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/temp_dir.h"

extern char** environ;

namespace lookout::testing {

/// The files, all PEM, in one folder:
///   ca.crt, ca.key                    the CA ("Lookout test CA")
///   server.crt, server.key            CN=localhost, subjectAltName IP:127.0.0.1, DNS:localhost
///                                     (libmosquitto checks the host name it connected to)
///   client.crt, client.key            CN=lookout-test-client, for client-certificate auth
///   other_ca.crt, other_ca.key        an unrelated CA: trusting it must fail
/// EC keys (prime256v1), valid for a few days from now. Each openssl
/// configuration is written here too (no dependence on the system's
/// openssl.cnf), so this works with OpenSSL 3.0 (Debian 12) and 3.5 (Debian 13).
class TestPki {
 public:
  /// Makes everything in a TempDir of its own, removed with this object.
  TestPki() : own_dir_(std::in_place) { Make(own_dir_->path()); }

  /// Makes everything in `dir` (created if missing; files there are
  /// overwritten, and left there).
  explicit TestPki(const std::filesystem::path& dir) {
    std::filesystem::create_directories(dir);
    Make(dir);
  }

  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  const std::filesystem::path& dir() const { return dir_; }

  std::filesystem::path ca_cert() const { return dir_ / "ca.crt"; }
  std::filesystem::path ca_key() const { return dir_ / "ca.key"; }
  std::filesystem::path server_cert() const { return dir_ / "server.crt"; }
  std::filesystem::path server_key() const { return dir_ / "server.key"; }
  std::filesystem::path client_cert() const { return dir_ / "client.crt"; }
  std::filesystem::path client_key() const { return dir_ / "client.key"; }
  std::filesystem::path other_ca_cert() const { return dir_ / "other_ca.crt"; }
  std::filesystem::path other_ca_key() const { return dir_ / "other_ca.key"; }

 private:
  static constexpr char kDays[] = "3";

  void Make(const std::filesystem::path& dir) {
    dir_ = dir;
    MakeCa("ca", "Lookout test CA");
    MakeCa("other_ca", "Unrelated test CA");
    MakeSigned("server", "localhost",
               "extendedKeyUsage = serverAuth\n"
               "subjectAltName = IP:127.0.0.1, DNS:localhost\n",
               "2");
    MakeSigned("client", "lookout-test-client", "extendedKeyUsage = clientAuth\n", "3");
  }

  // A self-signed CA: <name>.crt and <name>.key.
  void MakeCa(const std::string& name, const std::string& common_name) {
    const std::string conf = Write(name + ".cnf", RequestConfig(common_name) +
                                                      "[v3_ca]\n"
                                                      "basicConstraints = critical, CA:TRUE\n"
                                                      "keyUsage = critical, keyCertSign, cRLSign\n"
                                                      "subjectKeyIdentifier = hash\n"
                                                      "authorityKeyIdentifier = keyid:always\n");
    Openssl({"req", "-x509", "-new", "-config", conf, "-extensions", "v3_ca", "-newkey", "ec",
             "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-sha256", "-days", kDays,
             "-keyout", Path(name + ".key"), "-out", Path(name + ".crt")});
  }

  // A key and a certificate signed by ca.crt: <name>.crt and <name>.key,
  // with `extensions` (lines of an openssl extension section) besides the
  // end-entity basics.
  void MakeSigned(const std::string& name, const std::string& common_name,
                  const std::string& extensions, const std::string& serial) {
    const std::string conf = Write(name + ".cnf", RequestConfig(common_name));
    const std::string ext = Write(name + ".ext",
                                  "[v3_leaf]\n"
                                  "basicConstraints = critical, CA:FALSE\n"
                                  "keyUsage = critical, digitalSignature\n"
                                  "subjectKeyIdentifier = hash\n"
                                  "authorityKeyIdentifier = keyid, issuer\n" +
                                      extensions);
    const std::string csr = Path(name + ".csr");
    Openssl({"req", "-new", "-config", conf, "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-sha256", "-keyout", Path(name + ".key"),
             "-out", csr});
    Openssl({"x509", "-req", "-in", csr, "-CA", Path("ca.crt"), "-CAkey", Path("ca.key"),
             "-set_serial", serial, "-sha256", "-days", kDays, "-extfile", ext, "-extensions",
             "v3_leaf", "-out", Path(name + ".crt")});
  }

  // An openssl req configuration that asks nothing.
  static std::string RequestConfig(const std::string& common_name) {
    return "[req]\n"
           "prompt = no\n"
           "distinguished_name = dn\n"
           "[dn]\n"
           "CN = " + common_name + "\n";
  }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  std::string Write(const std::string& name, const std::string& text) const {
    const std::string path = Path(name);
    std::ofstream out(path);
    out << text;
    out.close();
    if (!out) throw std::runtime_error("cannot write " + path);
    return path;
  }

  // Runs `openssl args...` (stdin /dev/null, stdout and stderr to
  // openssl.log); throws with the command and its output if it fails.
  void Openssl(const std::vector<std::string>& args) const {
    std::vector<std::string> argv{"openssl"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::string command;
    for (const std::string& arg : argv) command += (command.empty() ? "" : " ") + arg;

    const std::string log = Path("openssl.log");
    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    ::posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                       O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    std::vector<char*> c_args;
    for (const std::string& arg : argv) c_args.push_back(const_cast<char*>(arg.c_str()));
    c_args.push_back(nullptr);
    pid_t pid;
    const int rc = ::posix_spawnp(&pid, "openssl", &actions, nullptr, c_args.data(), environ);
    ::posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      throw std::runtime_error("cannot start `" + command + "` (is openssl installed?)");
    }
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::ifstream in(log);
      std::stringstream output;
      output << in.rdbuf();
      throw std::runtime_error("`" + command + "` failed:\n" + output.str());
    }
  }

  std::optional<TempDir> own_dir_;
  std::filesystem::path dir_;
};

}  // namespace lookout::testing

#endif  // LOOKOUT_TESTS_SUPPORT_TLS_CERTS_H_
