#include <utility>  // before Boost.Asio: 1.74 misses it under C++20
#include "node/mesh.h"

#include "node/accept_guard.h"

#include <boost/asio.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <deque>
#include <map>
#include <mutex>
#include <set>

namespace x0x::node {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using wire::FrameType;
using namespace std::chrono_literals;

namespace {

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

// How a queued frame goes on the wire: HELLO as it is, everything else sealed
// with the session cipher when its write starts (nonces in socket order).
enum class Sealing : std::uint8_t { plain, session };

struct OutFrame {
  std::string bytes;
  Clock::time_point enqueued, release_at;
  SendMeta meta;
  bool handshake = false;  // may leave before the handshake is complete (HELLO, AUTH)
  Sealing sealing = Sealing::session;
  bool flagged = false;  // already counted as a send timeout
};

}  // namespace

struct Conn;

struct Mesh::Impl : std::enable_shared_from_this<Mesh::Impl> {
  asio::io_context& io;
  const Identity& id;
  MeshOptions opts;
  RecvPump& pump;
  Faults& faults;
  MeshCallbacks cb;
  // Serialises the acceptor and the tick timer: with [lean] io_threads > 1
  // their handlers would otherwise run on any thread, concurrently with stop().
  asio::strand<asio::io_context::executor_type> strand;
  tcp::acceptor acceptor;
  asio::steady_timer tick_timer;
  AcceptGuard fd_guard{"mesh"};
  asio::steady_timer accept_pause{strand};
  std::string self_addr;
  std::atomic<bool> stopping{false};

  mutable std::mutex mu;
  std::map<std::string, std::shared_ptr<Conn>> peers;           // established, by machine id
  std::map<std::uint64_t, std::weak_ptr<Conn>> conns;           // every live connection
  std::map<std::string, KnownAgent> agents;                     // discovery cache, by agent id
  PeerAddressBook addresses;                                    // whom to dial, and when
  std::map<std::string, std::string> addr_owner;                // listen addr -> agent id
  std::uint64_t next_conn_id = 1;
  Clock::time_point last_heartbeat{};

  // tx_depth (data_tx.data_tx_depth): frames queued on every connection plus
  // the frame each connection is writing right now. +1 when enqueued, -1 when
  // its write completes (successfully or not) or when close() discards it
  // unwritten; so it is 0 exactly when no frame waits for or is in a write.
  std::atomic<std::uint64_t> tx_depth{0}, tx_high_water{0}, establish_failures{0},
      budget_exhausted{0};
  // Strangers: accepted connections whose HELLO has not been accepted, by remote
  // address; and what was refused or cut before a handshake (diagnostics).
  std::map<std::string, std::size_t> pending_by_addr;
  std::size_t pending_total = 0;
  std::atomic<std::uint64_t> refused_pending_cap{0}, handshake_timeouts{0}, oversize_before_hello{0},
      auth_failed{0}, keepalive_timeouts{0}, closed_on_bad_frame{0};
  std::atomic<bool> above_high_water{false}, version_mismatch_logged{false};

  Impl(asio::io_context& io_, const Identity& id_, MeshOptions o, RecvPump& p, Faults& f, MeshCallbacks c)
      : io(io_), id(id_), opts(std::move(o)), pump(p), faults(f), cb(std::move(c)), strand(asio::make_strand(io_)),
        acceptor(strand), tick_timer(strand), addresses(opts.addresses) {}

  void accept_loop();
  void accept_exhausted();
  void dial_due();  // dials what the address book says is due, within its budget
  void dial(const std::string& addr);
  bool connected_addr(const std::string& addr) const;  // under mu
  void tick();
  void on_established(const std::shared_ptr<Conn>& c);
  void on_closed(Conn& c);
  void learn_addr(const std::string& addr, bool bootstrap = false);
  bool partitioned_addr(const std::string& addr) const;
  void note_tx_depth_change();
};

struct Conn : std::enable_shared_from_this<Conn> {
  std::shared_ptr<Mesh::Impl> mesh;
  tcp::socket sock;
  asio::strand<asio::io_context::executor_type> strand;
  asio::steady_timer release_timer;
  std::uint64_t id;
  bool outbound;
  std::string dial_addr;
  wire::KxKeyPair kx = wire::KxKeyPair::generate();
  std::array<std::uint8_t, 32> own_nonce = wire::fresh_nonce();
  std::optional<std::array<std::uint8_t, 32>> peer_kx_pk;  // set by the peer's HELLO
  wire::SessionCipher cipher;  // from the peer's HELLO on; used on the strand only
  std::atomic<bool> established{false};
  PeerInfo info;
  std::uint32_t generation = 1;

  std::array<std::uint8_t, 4> len_buf{};
  std::string body_buf;
  std::size_t body_len = 0;  // announced length of the frame being read
  asio::steady_timer hs_timer{strand};
  std::string pending_addr;  // counted in mesh->pending_by_addr until established or closed
  std::optional<InboundFrame> pending;

  std::mutex mu;  // guards q, inflight, writing, closed
  std::deque<OutFrame> q;
  // The frame async_write is sending. It leaves q when its write starts and is
  // owned by this pointer and by the write's completion handler, so close()
  // can empty q without freeing a buffer the kernel is still reading from.
  std::shared_ptr<OutFrame> inflight;
  bool writing = false;  // a writer chain (release wait or write) is running
  bool closed = false;
  // Release times of the last frames sent on a link whose delay fault has a
  // window: a frame leaves no earlier than one round trip (the delay) after
  // the frame `window` places before it, as if that frame's ack clocked it out.
  std::deque<Clock::time_point> window_releases;

  std::atomic<std::uint64_t> tx_frames{0}, rx_frames{0}, tx_bytes{0}, rx_bytes{0}, lost{0};
  std::atomic<std::int64_t> rtt_us{-1}, last_rx_ns{0}, last_tx_ns{0};

  Conn(std::shared_ptr<Mesh::Impl> m, tcp::socket s, std::uint64_t id_, bool out, std::string addr)
      : mesh(std::move(m)), sock(std::move(s)), strand(asio::make_strand(mesh->io)),
        release_timer(mesh->io), id(id_), outbound(out), dial_addr(std::move(addr)) {
    last_rx_ns = last_tx_ns = steady_ns();
  }

  void start() {
    boost::system::error_code ec;
    auto ep = sock.remote_endpoint(ec);
    if (!ec) info.remote_addr = SocketAddr{ep.address().to_string(), ep.port()}.to_string();
    sock.set_option(tcp::no_delay(true), ec);
    if (!mesh->faults.stale())
      enqueue(wire::plain_frame(FrameType::hello, wire::encode_hello(wire::Hello{wire::kProtocolVersion, kx.pk, own_nonce})),
              {}, true, Sealing::plain);
    hs_timer.expires_after(mesh->opts.handshake_timeout);
    hs_timer.async_wait(asio::bind_executor(strand, [self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->established) return;
      self->mesh->handshake_timeouts++;
      self->close("no handshake within " + std::to_string(self->mesh->opts.handshake_timeout.count()) + " ms");
    }));
    asio::dispatch(strand, [self = shared_from_this()] { self->read_header(); });
  }

  // Leaves the strangers' count (handshake done or connection gone); idempotent.
  void release_pending() {
    if (pending_addr.empty()) return;
    std::lock_guard lk(mesh->mu);
    auto it = mesh->pending_by_addr.find(pending_addr);
    if (it != mesh->pending_by_addr.end() && --it->second == 0) mesh->pending_by_addr.erase(it);
    mesh->pending_total--;
    pending_addr.clear();
  }

  // Thread-safe.
  // bytes: an unsealed_frame (a plain_frame for HELLO).
  bool enqueue(std::string bytes, SendMeta meta, bool handshake = false, Sealing sealing = Sealing::session) {
    auto now = Clock::now();
    auto delay = mesh->faults.delay(info.agent_id, info.machine_id);
    auto window = mesh->faults.window_frames(info.agent_id, info.machine_id);
    bool kick = false;
    {
      std::lock_guard lk(mu);
      if (closed) return false;
      if (q.size() >= mesh->opts.per_peer_capacity || mesh->tx_depth.load() >= mesh->opts.data_tx_capacity) {
        mesh->budget_exhausted++;
        return false;
      }
      auto release = now + delay;
      if (!q.empty()) release = std::max(release, q.back().release_at);  // per-peer FIFO
      if (window > 0) {
        if (window_releases.size() >= window) release = std::max(release, window_releases[window_releases.size() - window] + delay);
        window_releases.push_back(release);
        while (window_releases.size() > window) window_releases.pop_front();
      } else {
        window_releases.clear();
      }
      q.push_back(OutFrame{std::move(bytes), now, release, std::move(meta), handshake, sealing});
      mesh->tx_depth++;
      if (!writing && (established || handshake)) kick = writing = true;
    }
    mesh->note_tx_depth_change();
    if (kick) asio::post(strand, [self = shared_from_this()] { self->write_next(); });
    return true;
  }

  void kick_writer() {
    bool kick = false;
    {
      std::lock_guard lk(mu);
      if (!writing && !q.empty() && !closed) kick = writing = true;
    }
    if (kick) asio::post(strand, [self = shared_from_this()] { self->write_next(); });
  }

  // On the strand. When a delay fault is lifted, frames it was holding leave
  // at once (as queued packets do when a netem qdisc is deleted).
  void release_held() {
    asio::post(strand, [self = shared_from_this()] {
      bool waiting;
      {
        std::lock_guard lk(self->mu);
        if (self->mesh->faults.delaying(self->info.agent_id, self->info.machine_id)) return;
        auto now = Clock::now();
        for (auto& f : self->q) f.release_at = std::min(f.release_at, now);
        self->window_releases.clear();
        waiting = self->writing && !self->inflight && !self->closed;
      }
      if (!waiting) return;
      self->release_timer.cancel();  // its handler sees operation_aborted and leaves the chain to us
      self->write_next();
    });
  }

  // On the strand.
  void write_next() {
    std::shared_ptr<OutFrame> frame;
    Clock::time_point hold_until{};
    {
      std::lock_guard lk(mu);
      if (inflight) return;  // a write is under way; its completion continues the chain
      if (closed || q.empty() || (!established && !q.front().handshake)) {
        writing = false;
        return;
      }
      if (q.front().release_at > Clock::now()) {
        hold_until = q.front().release_at;  // a delay fault holds it
      } else {
        frame = std::make_shared<OutFrame>(std::move(q.front()));
        q.pop_front();
        inflight = frame;
      }
    }
    if (frame && frame->sealing == Sealing::session) cipher.seal_in_place(frame->bytes);
    if (!frame) {
      release_timer.expires_at(hold_until);
      release_timer.async_wait(asio::bind_executor(strand, [self = shared_from_this()](auto ec) {
        if (!ec) self->write_next();
      }));
      return;
    }
    asio::async_write(sock, asio::buffer(frame->bytes),
                      asio::bind_executor(strand, [self = shared_from_this(), frame](boost::system::error_code ec, std::size_t n) {
                        self->on_written(*frame, ec, n);
                      }));
  }

  // On the strand; runs once for every write started, also after close().
  void on_written(OutFrame& done, boost::system::error_code ec, std::size_t n) {
    bool flagged;
    {
      std::lock_guard lk(mu);
      inflight.reset();
      flagged = done.flagged;  // check_send_timeouts writes it under mu
    }
    mesh->tx_depth--;
    mesh->note_tx_depth_change();
    if (ec) return close_now("write: " + ec.message());
    tx_frames++;
    tx_bytes += n;
    last_tx_ns = steady_ns();
    if (done.meta.track_timeout && !flagged && mesh->cb.on_send_result) {
      bool late = Clock::now() - done.enqueued > mesh->opts.peer_send_timeout;
      for (auto& topic : done.meta.topics) mesh->cb.on_send_result(info.machine_id, topic, late);
    }
    write_next();
  }

  // Frames whose send has been waiting longer than the per-peer timeout count
  // now, even if the write never completes (a peer that stopped reading).
  void check_send_timeouts(Clock::time_point now) {
    std::vector<std::string> topics;
    {
      std::lock_guard lk(mu);
      auto late = [&](OutFrame& f) {
        if (now - f.enqueued <= mesh->opts.peer_send_timeout) return false;
        if (f.meta.track_timeout && !f.flagged) {
          f.flagged = true;
          topics.insert(topics.end(), f.meta.topics.begin(), f.meta.topics.end());
        }
        return true;
      };
      // The frame being written is the oldest; the queue is in enqueue order.
      if (!inflight || late(*inflight))
        for (auto& f : q)
          if (!late(f)) break;
    }
    if (mesh->cb.on_send_result)
      for (auto& t : topics) mesh->cb.on_send_result(info.machine_id, t, true);
  }

  void read_header() {
    asio::async_read(sock, asio::buffer(len_buf),
                     asio::bind_executor(strand, [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                       if (ec) return self->close("read: " + ec.message());
                       std::uint32_t len = std::uint32_t(self->len_buf[0]) << 24 | std::uint32_t(self->len_buf[1]) << 16 |
                                           std::uint32_t(self->len_buf[2]) << 8 | self->len_buf[3];
                       if (len < 1 + wire::kMacSize || len > wire::kMaxFrameSize)
                         return self->close("bad frame length " + std::to_string(len));
                       if (!self->established && len > wire::kMaxHelloFrameSize) {
                         self->mesh->oversize_before_hello++;
                         return self->close("a " + std::to_string(len) + "-byte frame before the handshake");
                       }
                       self->body_len = len;
                       self->body_buf.clear();
                       self->read_body();
                     }));
  }

  // The body in steps (kFrameReadStep): memory follows the bytes that arrived,
  // not the length the peer announced.
  void read_body() {
    auto have = body_buf.size();
    body_buf.resize(std::min(body_len, have + wire::kFrameReadStep));
    asio::async_read(sock, asio::buffer(body_buf.data() + have, body_buf.size() - have),
                     asio::bind_executor(strand, [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                       if (ec) return self->close("read: " + ec.message());
                       if (self->body_buf.size() < self->body_len) return self->read_body();
                       self->rx_bytes += self->body_len + 4;
                       self->on_frame();
                     }));
  }

  void on_frame() {
    try {
      if (mesh->faults.stale()) {  // a stale node answers nothing...
        if (established) cipher.open_in_place(body_buf);  // ...but keeps its session in step for when it wakes
        return read_header();
      }
      if (!established) return on_handshake_frame();
      auto type = cipher.open_in_place(body_buf);
      if (type == FrameType::hello || type == FrameType::auth) return close("handshake frame after the handshake");
      rx_frames++;
      last_rx_ns = steady_ns();
      if (mesh->faults.partitioned(info.agent_id, info.machine_id)) return close("partitioned");
      // Keepalives are transport business, as QUIC's are: answered here on
      // the I/O thread instead of waking a dispatcher worker.
      if (type == FrameType::ping) {
        enqueue(wire::unsealed_frame(FrameType::pong, body_buf), {});
        return read_header();
      }
      if (type == FrameType::pong) {
        rtt_us = (steady_ns() - static_cast<std::int64_t>(wire::decode_ping(body_buf))) / 1000;
        return read_header();
      }
      InboundFrame in{type, std::move(body_buf), id, info.machine_id, {}};
      push_inbound(std::move(in));
    } catch (const std::exception& e) {
      mesh->closed_on_bad_frame++;
      close(std::string("bad frame: ") + e.what());
    }
  }

  // HELLO (plain), then AUTH (the first encrypted frame). Any failure here is
  // a stranger that could not prove who it is: counted and closed.
  void on_handshake_frame() {
    try {
      if (!peer_kx_pk) {
        auto f = wire::open_plain_frame(body_buf);
        if (f.type != FrameType::hello) return close("first frame was not HELLO");
        auto h = wire::decode_hello(f.body);
        cipher = wire::derive_session(kx, h.kx_pk, outbound);
        peer_kx_pk = h.kx_pk;
        wire::Auth a;
        a.agent_pk = mesh->id.agent.pk;
        a.listen_addr = mesh->self_addr;
        a.name = mesh->opts.name;
        a.ts_ms = unix_ms();
        auto body = wire::encode_auth(a, mesh->id.machine, wire::Transcript{kx.pk, h.kx_pk, h.nonce});
        enqueue(wire::unsealed_frame(FrameType::auth, body), {}, true);
        return read_header();
      }
      auto type = cipher.open_in_place(body_buf);
      if (type != FrameType::auth) return close("expected AUTH after HELLO");
      on_auth(wire::decode_auth(body_buf, wire::Transcript{*peer_kx_pk, kx.pk, own_nonce}));
      if (!closed) read_header();
    } catch (const std::exception& e) {
      mesh->auth_failed++;
      // A fleet half upgraded across protocol versions cannot mesh: say so
      // where an operator looks, once.
      if (std::string_view(e.what()).find("protocol version") != std::string_view::npos &&
          !mesh->version_mismatch_logged.exchange(true))
        spdlog::warn("mesh: a peer speaks another protocol version ({}): upgrade every lean node together", e.what());
      close(std::string("handshake failed: ") + e.what());
    }
  }

  void push_inbound(InboundFrame&& in) {
    auto self = shared_from_this();
    auto r = mesh->pump.push(in, [self] {
      asio::post(self->strand, [self] {
        if (self->pending) {
          auto f = std::move(*self->pending);
          self->pending.reset();
          self->push_inbound(std::move(f));
        }
      });
    });
    if (r == RecvQueue::Push::must_wait) {
      pending = std::move(in);  // not taken: stop reading until the queue has room
      return;
    }
    read_header();
  }

  void on_auth(const wire::Auth& h) {
    info.machine_id = derive_machine_id(h.machine_pk);
    info.agent_id = derive_agent_id(h.agent_pk);
    info.agent_pk = h.agent_pk;
    info.name = h.name;
    info.listen_addr = h.listen_addr;
    info.outbound = outbound;
    info.conn_id = id;
    if (info.machine_id == mesh->id.machine_id) {
      {
        std::lock_guard lk(mesh->mu);
        mesh->addr_owner[h.listen_addr] = info.agent_id;  // our own address: never dial it again
      }
      return close("connected to self");  // not under mesh->mu: on_closed takes it
    }
    if (mesh->faults.partitioned(info.agent_id, info.machine_id)) return close("partitioned");
    established = true;
    hs_timer.cancel();
    release_pending();
    mesh->on_established(shared_from_this());
  }

  // Thread-safe: closes on the strand (at once when already running on it).
  void close(std::string why) {
    asio::dispatch(strand, [self = shared_from_this(), why = std::move(why)] { self->close_now(why); });
  }

  // On the strand. Queued frames are discarded; a frame being written stays
  // alive (inflight) until its completion handler releases it.
  void close_now(const std::string& why) {
    {
      std::lock_guard lk(mu);
      if (closed) return;
      closed = true;
      mesh->tx_depth -= q.size();
      q.clear();
    }
    mesh->note_tx_depth_change();
    spdlog::debug("mesh: connection {} to {} closed: {}", id, info.name.empty() ? dial_addr : info.name, why);
    boost::system::error_code ec;
    sock.shutdown(tcp::socket::shutdown_both, ec);
    sock.close(ec);
    release_timer.cancel();
    hs_timer.cancel();
    release_pending();
    mesh->on_closed(*this);
  }

};

void Mesh::Impl::note_tx_depth_change() {
  // Counts rising edges through 80 % of the outbound budget.
  bool above = tx_depth.load() * 10 >= opts.data_tx_capacity * 8;
  if (above_high_water.exchange(above) != above && above) tx_high_water++;
}

// At the fd limit: take the waiting connection with the spare descriptor and
// close it (a stranger must not cost us the API's last descriptors), then
// pause before accepting again. On the acceptor's strand.
void Mesh::Impl::accept_exhausted() {
  auto ex = fd_guard.on_exhausted();
  if (ex.spare_released) {
    boost::system::error_code ec;
    acceptor.non_blocking(true, ec);
    tcp::socket shed(io);
    acceptor.accept(shed, ec);
    if (!ec) fd_guard.count_shed();
    shed.close(ec);
    fd_guard.restore_spare();  // into the descriptor just closed
  }
  accept_pause.expires_after(ex.pause);
  accept_pause.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec && !self->stopping) self->accept_loop();
  });
}

void Mesh::Impl::accept_loop() {
  acceptor.async_accept([self = shared_from_this()](boost::system::error_code ec, tcp::socket s) {
    if (ec) {
      if (self->stopping) return;
      if (AcceptGuard::is_fd_exhaustion(ec.value())) return self->accept_exhausted();
      return self->accept_loop();
    }
    self->fd_guard.on_accepted();
    std::shared_ptr<Conn> c;
    {
      boost::system::error_code aec;
      auto remote = s.remote_endpoint(aec);
      std::string addr = aec ? "?" : remote.address().to_string();
      std::lock_guard lk(self->mu);
      if (self->pending_total >= self->opts.pending_total || self->pending_by_addr[addr] >= self->opts.pending_per_address) {
        if (self->pending_by_addr[addr] == 0) self->pending_by_addr.erase(addr);
        if (self->refused_pending_cap++ == 0)  // once: a flood must not flood the log too
          spdlog::warn("mesh: refusing connections from {}: too many without a handshake (per address {}, in all {})", addr,
                       self->opts.pending_per_address, self->opts.pending_total);
        s.close(aec);
      } else {
        self->pending_by_addr[addr]++;
        self->pending_total++;
        c = std::make_shared<Conn>(self, std::move(s), self->next_conn_id++, false, "");
        c->pending_addr = addr;
        self->conns[c->id] = c;
      }
    }
    if (c) c->start();
    self->accept_loop();
  });
}

void Mesh::Impl::learn_addr(const std::string& addr, bool bootstrap) {
  if (addr.empty() || addr == self_addr || !parse_socket_addr(addr)) return;
  bool fresh;
  {
    std::lock_guard lk(mu);
    fresh = addresses.learn(addr, bootstrap, Clock::now()) == PeerAddressBook::Learned::added;
  }
  if (fresh) dial_due();
}

bool Mesh::Impl::partitioned_addr(const std::string& addr) const {
  auto it = addr_owner.find(addr);
  if (it == addr_owner.end()) return false;
  auto a = agents.find(it->second);
  return faults.partitioned(it->second, a == agents.end() ? std::string() : a->second.machine_id);
}

// Under mu: the address belongs to a connected peer, or to us.
bool Mesh::Impl::connected_addr(const std::string& addr) const {
  if (addr == self_addr) return true;
  auto owner = addr_owner.find(addr);
  if (owner == addr_owner.end()) return false;
  if (owner->second == id.agent_id) return true;
  auto a = agents.find(owner->second);
  return a != agents.end() && peers.count(a->second.machine_id);
}

void Mesh::Impl::dial_due() {
  if (stopping) return;
  std::vector<std::string> due;
  {
    std::lock_guard lk(mu);
    due = addresses.take_due(Clock::now(),
                             [this](const std::string& a) { return connected_addr(a) || partitioned_addr(a); });
  }
  for (auto& a : due) dial(a);
}

// Only for addresses take_due handed out: each ends in answered() (a
// handshake) or dial_failed() (no connection, or no handshake on it).
void Mesh::Impl::dial(const std::string& addr) {
  auto sa = parse_socket_addr(addr);
  boost::system::error_code ec;
  auto ip = sa ? asio::ip::make_address(sa->host == "localhost" ? "127.0.0.1" : sa->host, ec) : asio::ip::address{};
  if (!sa || ec) {
    std::lock_guard lk(mu);
    addresses.dial_failed(addr, Clock::now());
    return;
  }
  // One strand for the socket and its connect timeout: their handlers touch
  // the same socket and may otherwise run at once on two I/O threads.
  auto ex = asio::make_strand(io);
  auto sock = std::make_shared<tcp::socket>(ex);
  auto timer = std::make_shared<asio::steady_timer>(ex, 3s);
  timer->async_wait([sock](auto e) {
    if (!e) {
      boost::system::error_code ignored;
      sock->close(ignored);
    }
  });
  sock->async_connect(tcp::endpoint(ip, sa->port), [self = shared_from_this(), sock, timer, addr](boost::system::error_code e) {
    timer->cancel();
    std::shared_ptr<Conn> c;
    {
      std::lock_guard lk(self->mu);
      if (e || self->stopping) {
        self->establish_failures++;
        self->addresses.dial_failed(addr, Clock::now());
        return;
      }
      c = std::make_shared<Conn>(self, std::move(*sock), self->next_conn_id++, true, addr);
      self->conns[c->id] = c;
    }
    c->start();
  });
}

void Mesh::Impl::on_established(const std::shared_ptr<Conn>& c) {
  std::shared_ptr<Conn> replaced, rejected;
  std::vector<std::shared_ptr<Conn>> others;
  {
    std::lock_guard lk(mu);
    auto& i = c->info;
    agents[i.agent_id] = KnownAgent{i.agent_id, i.machine_id, i.name, i.listen_addr, i.agent_pk, unix_ms()};
    if (c->outbound) addresses.answered(c->dial_addr);
    if (!i.listen_addr.empty()) {
      addr_owner[i.listen_addr] = i.agent_id;
      addresses.learn_proven(i.listen_addr, Clock::now());
    }
    auto it = peers.find(i.machine_id);
    if (it != peers.end() && it->second != c) {
      // Two connections between the same pair (simultaneous dials): both
      // sides keep the one dialled by the smaller machine id.
      const auto& lo = std::min(id.machine_id, i.machine_id);
      auto dialer = [&](const Conn& x) { return x.outbound ? id.machine_id : i.machine_id; };
      if (dialer(*c) == lo && dialer(*it->second) != lo) {
        replaced = it->second;
        it->second = c;
      } else {
        rejected = c;
      }
    } else {
      peers[i.machine_id] = c;
    }
    if (!rejected)
      for (auto& [mid, p] : peers)
        if (p != c) others.push_back(p);
  }
  if (rejected) return rejected->close("duplicate connection");
  if (replaced) {
    replaced->established = false;  // its close must not report the peer down
    replaced->close("replaced by the preferred duplicate");
  } else if (cb.on_peer_up) {
    cb.on_peer_up(c->info);
  }
  c->kick_writer();
  // Peer exchange: the newcomer learns everyone, everyone learns the newcomer.
  wire::Peers list;
  for (auto& o : others)
    if (!o->info.listen_addr.empty()) list.addrs.push_back(o->info.listen_addr);
  if (!list.addrs.empty()) c->enqueue(wire::unsealed_frame(FrameType::peers, wire::encode_peers(list)), {});
  if (!c->info.listen_addr.empty()) {
    auto one = wire::encode_peers(wire::Peers{{c->info.listen_addr}});
    for (auto& o : others) o->enqueue(wire::unsealed_frame(FrameType::peers, one), {});
  }
}

void Mesh::Impl::on_closed(Conn& c) {
  bool was_peer = false;
  {
    std::lock_guard lk(mu);
    conns.erase(c.id);
    auto it = peers.find(c.info.machine_id);
    if (it != peers.end() && it->second.get() == &c) {
      peers.erase(it);
      was_peer = true;
    }
    auto now = Clock::now();
    // Connected but no identity proven (no AUTH): a failed dial of that address.
    if (c.outbound && c.info.machine_id.empty()) addresses.dial_failed(c.dial_addr, now);
    if (was_peer && !c.info.listen_addr.empty()) addresses.lost(c.info.listen_addr, now);
  }
  if (was_peer && c.established && cb.on_peer_down && !stopping) cb.on_peer_down(c.info.machine_id);
}

void Mesh::Impl::tick() {
  if (stopping) return;
  auto now = Clock::now();
  std::vector<std::shared_ptr<Conn>> live;
  bool heartbeat = now - last_heartbeat >= opts.heartbeat_interval;
  {
    std::lock_guard lk(mu);
    for (auto& [_, w] : conns)
      if (auto c = w.lock()) live.push_back(c);
    if (heartbeat) last_heartbeat = now;
  }
  auto idle_limit_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(opts.idle_timeout).count();
  for (auto& c : live) {
    if (!c->established) continue;
    if (faults.partitioned(c->info.agent_id, c->info.machine_id)) {
      c->close("partitioned");
      continue;
    }
    // A stale node keeps its connections (it answers nothing, hears nothing).
    if (!faults.stale() && steady_ns() - c->last_rx_ns.load() > idle_limit_ns) {
      keepalive_timeouts++;
      spdlog::info("mesh: {} sent nothing for {} ms: closing it as dead", c->info.name, opts.idle_timeout.count());
      c->close("dead: nothing received within the idle timeout");
      continue;
    }
    c->check_send_timeouts(now);
    if (heartbeat && !faults.stale())
      c->enqueue(wire::unsealed_frame(FrameType::ping, wire::encode_ping(static_cast<std::uint64_t>(steady_ns()))), {});
  }
  dial_due();
  tick_timer.expires_after(1s);
  tick_timer.async_wait([self = shared_from_this()](auto ec) {
    if (!ec) self->tick();
  });
}

Mesh::Mesh(asio::io_context& io, const Identity& id, MeshOptions opts, RecvPump& pump, Faults& faults,
           MeshCallbacks cb)
    : impl_(std::make_shared<Impl>(io, id, std::move(opts), pump, faults, std::move(cb))) {}

Mesh::~Mesh() { stop(); }

void Mesh::start() {
  auto& im = *impl_;
  auto ip = asio::ip::make_address(im.opts.bind.host);
  tcp::endpoint ep(ip, im.opts.bind.port);
  im.acceptor.open(ep.protocol());
  im.acceptor.set_option(tcp::acceptor::reuse_address(true));
  if (ip.is_v6()) im.acceptor.set_option(asio::ip::v6_only(false));
  im.acceptor.bind(ep);
  im.acceptor.listen();
  auto bound = im.acceptor.local_endpoint();
  std::string host = bound.address().is_unspecified() ? (ip.is_v6() ? "::1" : "127.0.0.1") : bound.address().to_string();
  im.self_addr = SocketAddr{host, bound.port()}.to_string();
  im.accept_loop();
  for (auto& b : im.opts.bootstrap) im.learn_addr(b.to_string(), true);
  im.tick();
}

void Mesh::stop() {
  if (!impl_ || impl_->stopping.exchange(true)) return;
  auto im = impl_;
  asio::post(im->strand, [im] {
    boost::system::error_code ec;
    im->acceptor.close(ec);
    im->tick_timer.cancel();
    im->accept_pause.cancel();
    std::vector<std::shared_ptr<Conn>> all;
    {
      std::lock_guard lk(im->mu);
      for (auto& [_, w] : im->conns)
        if (auto c = w.lock()) all.push_back(c);
    }
    for (auto& c : all) c->close("shutdown");
  });
}

std::string Mesh::listen_addr() const { return impl_->self_addr; }

bool Mesh::send(const std::string& machine_id, FrameType type, std::string body, SendMeta meta) {
  std::shared_ptr<Conn> c;
  {
    std::lock_guard lk(impl_->mu);
    auto it = impl_->peers.find(machine_id);
    if (it == impl_->peers.end()) return false;
    c = it->second;
  }
  if (impl_->faults.stale()) return true;  // swallowed: a stale node answers nothing
  if (impl_->faults.drop(c->info.agent_id, c->info.machine_id)) {
    c->lost++;
    c->tx_frames++;
    return true;  // lost on the (emulated) wire
  }
  return c->enqueue(wire::unsealed_frame(type, body), std::move(meta));
}

std::vector<PeerInfo> Mesh::peers() const {
  std::lock_guard lk(impl_->mu);
  std::vector<PeerInfo> out;
  for (auto& [_, c] : impl_->peers) out.push_back(c->info);
  return out;
}

std::size_t Mesh::peer_count() const {
  std::lock_guard lk(impl_->mu);
  return impl_->peers.size();
}

std::optional<PeerInfo> Mesh::peer(const std::string& machine_id) const {
  std::lock_guard lk(impl_->mu);
  auto it = impl_->peers.find(machine_id);
  if (it == impl_->peers.end()) return std::nullopt;
  return it->second->info;
}

std::optional<KnownAgent> Mesh::known_agent(const std::string& agent_id) const {
  std::lock_guard lk(impl_->mu);
  auto it = impl_->agents.find(agent_id);
  if (it == impl_->agents.end()) return std::nullopt;
  return it->second;
}

std::vector<KnownAgent> Mesh::known_agents() const {
  std::lock_guard lk(impl_->mu);
  std::vector<KnownAgent> out;
  for (auto& [_, a] : impl_->agents) out.push_back(a);
  return out;
}

void Mesh::handle_membership(const InboundFrame& f) {
  std::shared_ptr<Conn> c;
  {
    std::lock_guard lk(impl_->mu);
    auto it = impl_->conns.find(f.conn_id);
    if (it != impl_->conns.end()) c = it->second.lock();
    auto a = impl_->agents.end();
    if (c) a = impl_->agents.find(c->info.agent_id);
    if (a != impl_->agents.end()) a->second.last_seen_unix_ms = unix_ms();
  }
  switch (f.type) {
    case FrameType::peers:
      asio::post(impl_->io, [im = impl_, addrs = wire::decode_peers(f.body).addrs] {
        {
          std::lock_guard lk(im->mu);
          auto now = Clock::now();
          for (auto& a : addrs)
            if (!a.empty() && a != im->self_addr && parse_socket_addr(a)) im->addresses.learn(a, false, now);
        }
        im->dial_due();
      });
      break;
    default:
      break;
  }
}

void Mesh::enforce_faults() {
  auto im = impl_;
  asio::post(im->io, [im] {
    std::vector<std::shared_ptr<Conn>> all;
    {
      std::lock_guard lk(im->mu);
      for (auto& [_, w] : im->conns)
        if (auto c = w.lock()) all.push_back(c);
    }
    for (auto& c : all) {
      if (c->established && im->faults.partitioned(c->info.agent_id, c->info.machine_id)) c->close("partitioned");
      else c->release_held();
    }
  });
}

nlohmann::json Mesh::data_tx_json() const {
  return {{"data_tx_depth", impl_->tx_depth.load()},
          {"data_tx_capacity", impl_->opts.data_tx_capacity},
          {"data_tx_high_water_count", impl_->tx_high_water.load()}};
}

std::uint64_t Mesh::establish_failures() const { return impl_->establish_failures.load(); }

nlohmann::json Mesh::connectivity_json() const {
  using nlohmann::json;
  auto now = steady_ns();
  json rows = json::array();
  std::int64_t rtt_sum = 0, rtt_n = 0;
  std::size_t n_peers = 0;
  json book;
  {
    std::lock_guard lk(impl_->mu);
    n_peers = impl_->peers.size();
    book = impl_->addresses.stats_json();
    for (auto& [mid, c] : impl_->peers) {
      auto rtt = c->rtt_us.load();
      std::int64_t rtt_ms = rtt < 0 ? 0 : (rtt + 500) / 1000;
      if (rtt >= 0) {
        rtt_sum += rtt_ms;
        rtt_n++;
      }
      auto sent = c->tx_frames.load(), lost = c->lost.load();
      auto last_rx = (now - c->last_rx_ns.load()) / 1'000'000, last_tx = (now - c->last_tx_ns.load()) / 1'000'000;
      rows.push_back({{"peer_id", mid}, {"transport", "tcp"}, {"stats_available", true},
                      {"connected", true}, {"generation", c->generation}, {"reader_task_active", true},
                      {"rtt_ms", rtt_ms}, {"udp_tx_bytes", 0}, {"udp_rx_bytes", 0},
                      {"udp_tx_datagrams", 0}, {"udp_rx_datagrams", 0},
                      {"tcp_tx_bytes", c->tx_bytes.load()}, {"tcp_rx_bytes", c->rx_bytes.load()},
                      {"congestion_window", 0}, {"congestion_events", 0},
                      {"lost_packets", lost}, {"lost_bytes", 0}, {"sent_packets", sent},
                      {"sent_plpmtud_probes", 0}, {"lost_plpmtud_probes", 0}, {"black_holes_detected", 0},
                      {"packet_loss_rate", sent ? static_cast<double>(lost) / static_cast<double>(sent) : 0.0},
                      {"current_mtu", 0}, {"stream_open_blocked_events", 0}, {"data_blocked_events", 0},
                      {"stream_data_blocked_events", 0}, {"last_sent_ago_ms", last_tx},
                      {"last_received_ago_ms", last_rx}, {"idle_for_ms", std::min(last_rx, last_tx)},
                      {"close_reason", nullptr}});
    }
  }
  return {{"peer_id", impl_->id.machine_id},
          {"local_addr", impl_->self_addr},
          {"external_addrs", json::array()},
          {"nat_type", "None"},
          {"can_receive_direct", true},
          {"direct_reachability_scope", "Loopback"},
          {"has_global_address", false},
          {"port_mapping", {{"active", false}, {"external_addr", nullptr}}},
          {"mdns", {{"browsing", false}, {"advertising", false}, {"discovered_peers", 0}}},
          {"services", {{"relay_enabled", false}, {"coordinator_enabled", false}, {"bootstrap_enabled", true}}},
          {"connections", {{"connected_peers", n_peers}, {"active", n_peers}, {"direct", n_peers}, {"relayed", 0},
                           {"hole_punch_success_rate", 0.0}}},
          {"per_peer_transport", rows},
          {"connection_pool", {{"active_count", n_peers}, {"max_connections", 0}, {"idle_evict_after_secs", 0},
                               {"idle_evictions_total", 0}, {"lru_evictions_total", 0},
                               {"establish_failures_total", impl_->establish_failures.load()}}},
          // Lean-only: strangers refused or cut before a handshake (hostile or broken peers).
          {"handshake", {{"refused_too_many_pending", impl_->refused_pending_cap.load()},
                         {"timed_out", impl_->handshake_timeouts.load()},
                         {"oversize_frame_before_hello", impl_->oversize_before_hello.load()},
                         {"auth_failed", impl_->auth_failed.load()},
                         {"accept_fd_exhausted", impl_->fd_guard.exhausted_total()},
                         {"accept_shed_at_fd_limit", impl_->fd_guard.shed_total()},
                         {"keepalive_timeouts", impl_->keepalive_timeouts.load()},
                         {"closed_on_bad_frame", impl_->closed_on_bad_frame.load()},  // after the handshake: forged, replayed, malformed
                         {"timeout_ms", impl_->opts.handshake_timeout.count()}}},
          {"peer_addresses", book},  // lean-only: the dial budget at work
          {"relay", {{"is_relaying", false}, {"sessions", 0}, {"bytes_forwarded", 0}}},
          {"coordinator", {{"is_coordinating", false}, {"sessions", 0}}},
          {"avg_rtt_ms", rtt_n ? rtt_sum / rtt_n : 0},
          {"data_tx", data_tx_json()},
          {"gso", {{"bundle_send_total", 0}, {"bundle_partial_send", 0}}},
          {"transport_environment", {{"degraded", false}, {"vpn_suspected", false}, {"cgnat_suspected", false},
                                     {"constrained_mtu", false}, {"mtu_critical", false}, {"min_observed_mtu", 0},
                                     {"lost_plpmtud_probes", 0}, {"black_holes_detected", 0},
                                     {"vpn_egress_addr", nullptr}, {"reasons", json::array()}, {"guidance", nullptr}}}};
}

}  // namespace x0x::node
