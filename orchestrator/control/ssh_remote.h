// RemoteHost over SSH (libssh; kept out of this header).
//
// Host keys are always checked against target.known_hosts (never ~/.ssh/config,
// never the user's ~/.ssh/known_hosts); with accept_new an UNKNOWN key is
// recorded, a CHANGED key is always refused. Keepalive: libssh 0.10 has no
// ServerAliveInterval, so the TCP connection gets SO_KEEPALIVE with
// TCP_KEEPIDLE/TCP_KEEPINTVL = keepalive_secs, TCP_KEEPCNT = 3 and
// TCP_USER_TIMEOUT = 3 * keepalive_secs: a dead peer surfaces as an error
// within about 3-4 intervals, and every exec has its own deadline on top.
//
// exec: commands run through a command shell: one channel per connection
// runs `exec /bin/sh`, and each command is written to it as `sh -c '<cmd>'`
// (stdin up to 1 MiB passed as a base64 here-document), framed by random
// markers on stdout and stderr that carry the exit code. The login shell and
// its rc files start once per connection instead of once per command: with a
// heavy ~/.bashrc (pyenv init: about 180 ms of CPU) that was most of a
// deploy's CPU. Output a command's background processes print between
// commands is dropped. On timeout the shell's process group (the command and
// the shell) gets SIGTERM and the next command starts a new shell. Larger
// stdin, SshTarget::command_shell = false, or a login shell that cannot start
// /bin/sh: one exec channel per command, SIGTERM on timeout (an OpenSSH
// "signal" request, best effort) and the channel closed. upload: the file is
// the stdin of `cat > tmp` (over 1 MiB: its own exec channel, writes as large
// as the channel window; smaller: through the command shell) rather than
// SFTP (libssh 0.10 has no pipelined SFTP writes: one round trip per
// 128 KiB), and hashed by `sha256sum` in the same command; the file is
// held in memory while it is sent. forward: a connection the SSH server
// cannot open (nothing listening, AllowTcpForwarding no) is closed at once
// and logged as a warning; if the forward's session dies, open connections
// are closed and new ones refused until the PortForward is recreated.
#pragma once
#include <memory>
#include <string>
#include <string_view>

#include "orchestrator/control/remote.h"

namespace x0x::orchestrator {

// Connects and authenticates. HostKeyError: "nyc (127.0.0.1:2222): host key is
// not in <known_hosts> (fingerprint SHA256:…); pin it or run with
// --accept-new-host-keys" or "…: host key CHANGED …; refusing". RemoteError
// on connect or authentication failure.
std::unique_ptr<RemoteHost> ssh_connect(const SshTarget& target);

// 'text' quoted for a POSIX shell (single quotes).
std::string shell_quote(std::string_view text);

// A remote command's output for a one-line message: trailing whitespace
// dropped, line breaks and tabs as spaces, at most max bytes (then "…").
std::string one_line(std::string text, std::size_t max = 300);

}  // namespace x0x::orchestrator
