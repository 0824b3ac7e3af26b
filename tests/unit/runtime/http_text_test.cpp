// runtime/http_text: URL pieces shared by the HTTP client, the integrations and their records.
#include "runtime/http_text.h"

#include <catch2/catch.hpp>

using ferry::is_http_url;
using ferry::url_without_password;

TEST_CASE("a URL's password is not shown, its user and the rest are", "[http_text]") {
    // Stored in clear in attempt records and previews: a URL may come from an input or a
    // vendor's "next" link.
    CHECK(url_without_password("http://admin:hunter2@127.0.0.1:8080/x?q=1#f") ==
          "http://admin:[REDACTED]@127.0.0.1:8080/x?q=1#f");
    // A token written as the user name is the secret itself.
    CHECK(url_without_password("https://ghp_abc123@example.com/repo") ==
          "https://[REDACTED]@example.com/repo");
    // The last '@' of the authority ends the user info; one in the path or query is text.
    CHECK(url_without_password("https://u:p@ss@example.com/a@b?c=d@e") ==
          "https://u:[REDACTED]@example.com/a@b?c=d@e");
    CHECK(url_without_password("https://example.com/a@b") == "https://example.com/a@b");
    CHECK(url_without_password("https://example.com?x=a:b@c") == "https://example.com?x=a:b@c");
    CHECK(url_without_password("https://u:p@host") == "https://u:[REDACTED]@host");
    CHECK(url_without_password("/relative/path@x") == "/relative/path@x");
    CHECK(url_without_password("") == "");
}

TEST_CASE("an http or https URL is absolute in any case of its scheme", "[http_text]") {
    for (const char* url : {"http://h/x", "https://h", "HTTP://h/x", "Https://h:8443/"})
        CHECK(is_http_url(url));
    for (const char* url : {"/api/x", "api/http://x", "ftp://h", "http:/h", "HTTP", ""})
        CHECK_FALSE(is_http_url(url));
}
