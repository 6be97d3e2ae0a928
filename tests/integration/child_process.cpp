#include "integration/child_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace synod::testing {

ChildProcess::ChildProcess(std::vector<std::string> argv) {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    dup2(in[0], STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  stdin_fd_ = in[1];
  stdout_fd_ = out[0];
}

ChildProcess::~ChildProcess() {
  if (running()) kill_now(SIGKILL);
  if (stdin_fd_ >= 0) close(stdin_fd_);
  if (stdout_fd_ >= 0) close(stdout_fd_);
}

void ChildProcess::write_line(const std::string& line) {
  std::string data = line + "\n";
  ssize_t n = write(stdin_fd_, data.data(), data.size());
  (void)n;  // a dead child shows up as a failed wait, with its transcript
}

bool ChildProcess::read_some(std::chrono::milliseconds budget) {
  pollfd p{stdout_fd_, POLLIN, 0};
  int r = poll(&p, 1, static_cast<int>(budget.count()));
  if (r <= 0) return false;
  char buf[4096];
  ssize_t n = read(stdout_fd_, buf, sizeof buf);
  if (n <= 0) return false;
  partial_.append(buf, static_cast<std::size_t>(n));
  for (std::size_t nl; (nl = partial_.find('\n')) != std::string::npos;) {
    lines_.push_back(partial_.substr(0, nl));
    consumed_.push_back(false);
    partial_.erase(0, nl + 1);
  }
  return true;
}

std::string ChildProcess::wait_for(const std::function<bool(const std::string&)>& match,
                                   std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (std::size_t i = 0;;) {
    for (; i < lines_.size(); ++i) {
      if (!consumed_[i] && match(lines_[i])) {
        consumed_[i] = true;
        return lines_[i];
      }
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return "";
    if (!read_some(left) && std::chrono::steady_clock::now() >= deadline) return "";
  }
}

std::string ChildProcess::wait_for_prefix(const std::string& prefix, std::chrono::milliseconds timeout) {
  return wait_for([&](const std::string& l) { return l.rfind(prefix, 0) == 0; }, timeout);
}

std::string ChildProcess::transcript() const {
  std::string out;
  for (const std::string& l : lines_) out += "  | " + l + "\n";
  return out;
}

void ChildProcess::kill_now(int signal) {
  if (!running()) return;
  ::kill(pid_, signal);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

unsigned short free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw std::runtime_error("bind failed");
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "synod-test-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace synod::testing
