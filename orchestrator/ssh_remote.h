// RemoteHost over SSH (libssh; kept out of this header).
//
// Host keys are always checked against target.known_hosts (never ~/.ssh/config,
// never the user's ~/.ssh/known_hosts); with accept_new an UNKNOWN key is
// recorded, a CHANGED key is always refused. Keepalive: libssh 0.10 has no
// ServerAliveInterval, so the TCP connection gets SO_KEEPALIVE with
// TCP_KEEPIDLE/TCP_KEEPINTVL = keepalive_secs, TCP_KEEPCNT = 3 and
// TCP_USER_TIMEOUT = 3 * keepalive_secs: a dead peer surfaces as an error
// within about 3-4 intervals, and every exec has its own deadline on top.
#pragma once
#include <memory>

#include "orchestrator/remote.h"

namespace x0x::orchestrator {

// Connects and authenticates. HostKeyError: "nyc (127.0.0.1:2222): host key is
// not in <known_hosts> (fingerprint SHA256:…); pin it or run with
// --accept-new-host-keys" or "…: host key CHANGED …; refusing". RemoteError
// on connect or authentication failure.
std::unique_ptr<RemoteHost> ssh_connect(const SshTarget& target);

// 'text' quoted for a POSIX shell (single quotes).
std::string shell_quote(std::string_view text);

}  // namespace x0x::orchestrator
