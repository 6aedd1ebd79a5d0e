// Typed, non-variadic wrappers around libcurl's variadic calls, which Swift cannot import.
#ifndef SALESPOT_CCURL_SHIM_H
#define SALESPOT_CCURL_SHIM_H
#include <curl/curl.h>

typedef size_t (*salespot_curl_data_cb)(char *ptr, size_t size, size_t nmemb, void *userdata);
typedef int (*salespot_curl_xferinfo_cb)(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
                                         curl_off_t ultotal, curl_off_t ulnow);

static inline CURLcode salespot_easy_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode salespot_easy_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode salespot_easy_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode salespot_easy_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode salespot_easy_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode salespot_easy_setopt_blob(CURL *h, CURLoption o, const void *data, size_t len) {
    struct curl_blob blob;
    blob.data = (void *)data;
    blob.len = len;
    blob.flags = CURL_BLOB_COPY;
    return curl_easy_setopt(h, o, &blob);
}
static inline CURLcode salespot_easy_setopt_data_cb(CURL *h, CURLoption o, salespot_curl_data_cb cb) { return curl_easy_setopt(h, o, cb); }
static inline CURLcode salespot_easy_setopt_xferinfo_cb(CURL *h, salespot_curl_xferinfo_cb cb) { return curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, cb); }
static inline CURLcode salespot_easy_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode salespot_easy_getinfo_pointer(CURL *h, CURLINFO i, void **v) { return curl_easy_getinfo(h, i, v); }
static inline CURLMcode salespot_multi_setopt_long(CURLM *m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }
static inline size_t salespot_curl_writefunc_pause(void) { return CURL_WRITEFUNC_PAUSE; }
static inline int salespot_curlpause_cont(void) { return CURLPAUSE_CONT; }
#endif
