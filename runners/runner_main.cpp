// x0x-test-runner: the agent beside each node. This is the skeleton; the
// control protocol (discover, noop_ack, send_dm, ...) arrives with issue 3.
#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--version") || !std::strcmp(argv[i], "-V")) {
      std::printf("x0x-test-runner %s\n", X0X_TOOLKIT_VERSION);
      return 0;
    }
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::printf("usage: x0x-test-runner [--version] [--help]\n\n"
                  "The x0x mesh test runner. Not functional yet: the control protocol lands in a later release.\n");
      return 0;
    }
  }
  std::fprintf(stderr, "x0x-test-runner: the control protocol is not implemented yet (see --help)\n");
  return 2;
}
