// An owned curl header list (curl_slist_free_all on destruction), shared by
// the REST client and the SSE stream.
#pragma once
#include <curl/curl.h>

#include <memory>

namespace x0x::probes {

struct CurlSlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using CurlSlist = std::unique_ptr<curl_slist, CurlSlistDeleter>;

}  // namespace x0x::probes
