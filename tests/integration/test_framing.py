"""Strict HTTP/1.1 framing: every ambiguous or malformed request is refused with a status and a
closed connection, and (for faults in the head) the origin never sees it.

Each test sends raw bytes a well-behaved client never would, on a fresh gateway whose only route
leads to the origin's echo, then checks the answer, that it says `connection: close`, that the
gateway really closed the connection, and, through the origin's own request counter, that nothing
reached the origin. Faults in a chunked body are found only after the head went upstream (the
body streams); for those the check is that the origin never got a whole request.
"""

import json

import pytest

from client import echo, header_values, parse_responses, raw_closed
from conftest import simple_route


def refused(gw, origin, data, status=400):
    """Sends data, expects one answer of status with connection: close and the connection
    closed, and the origin untouched. Returns the answer's headers."""
    before = origin.counts()
    resp, closed = raw_closed(gw.port, data)
    responses = parse_responses(resp)
    assert responses, "no answer to %r: got %r" % (data[:80], resp[:200])
    got, headers, body = responses[0]
    assert got == status, (data[:200], resp[:300])
    assert len(responses) == 1, "more than one answer: %r" % resp[:400]
    assert headers.get("connection", "").lower() == "close", resp[:300]
    assert closed, "the gateway kept the connection open after %d" % status
    assert headers.get("content-type") == "application/problem+json"
    assert b'"status":%d' % status in body
    assert origin.counts() == before, "the origin saw a refused request"
    return headers


def refused_mid_body(gw, origin, data, status=400):
    """As refused(), for faults in a chunked body: the head may have gone upstream, but the
    origin must never read a whole request."""
    before = origin.counts()["completed"]
    resp, closed = raw_closed(gw.port, data)
    responses = parse_responses(resp)
    assert responses, "no answer to a malformed body: got %r (closed=%s)" % (resp[:200], closed)
    got, headers, _ = responses[0]
    assert got == status, resp[:300]
    assert headers.get("connection", "").lower() == "close"
    assert closed
    assert origin.counts()["completed"] == before, "the origin read a whole malformed request"


@pytest.fixture
def gw(make_gateway, origin):
    return make_gateway(simple_route(), {"origin": [origin.address]})


def head(*lines, request_line=b"GET /echo HTTP/1.1"):
    return request_line + b"\r\n" + b"".join(line + b"\r\n" for line in lines) + b"\r\n"


def test_well_formed_request_is_served_and_counted(gw, origin):
    """The baseline the refusals are measured against."""
    before = origin.served()
    status, _, doc = echo(gw.port)
    assert status == 200 and doc["target"] == "/echo"
    assert origin.served() == before + 1


# --- body length: Content-Length and Transfer-Encoding ---

def test_transfer_encoding_with_content_length_is_refused_with_400(gw, origin):
    data = head(b"Host: a", b"Transfer-Encoding: chunked", b"Content-Length: 5",
                request_line=b"POST /echo HTTP/1.1") + b"0\r\n\r\n"
    refused(gw, origin, data)


def test_content_length_with_transfer_encoding_after_it_is_refused_with_400(gw, origin):
    data = head(b"Host: a", b"Content-Length: 5", b"Transfer-Encoding: chunked",
                request_line=b"POST /echo HTTP/1.1") + b"0\r\n\r\n"
    refused(gw, origin, data)


@pytest.mark.parametrize("values", [(b"5", b"5"), (b"5", b"6")], ids=["same", "different"])
def test_two_content_length_lines_are_refused_with_400(gw, origin, values):
    data = head(b"Host: a", b"Content-Length: " + values[0], b"Content-Length: " + values[1],
                request_line=b"POST /echo HTTP/1.1") + b"hello"
    refused(gw, origin, data)


@pytest.mark.parametrize("value", [b"3x", b"-1", b"3, 3", b"+3", b"0x3", b""],
                         ids=["trailing-letter", "negative", "list", "plus", "hex", "empty"])
def test_malformed_content_length_is_refused_with_400(gw, origin, value):
    data = head(b"Host: a", b"Content-Length: " + value,
                request_line=b"POST /echo HTTP/1.1") + b"abc"
    refused(gw, origin, data)


@pytest.mark.parametrize("value", [b"gzip", b"gzip, chunked", b"deflate"])
def test_unimplemented_transfer_coding_is_refused_with_501(gw, origin, value):
    """RFC 9112 section 6.1: a server answers 501 to a transfer coding it does not know."""
    data = head(b"Host: a", b"Transfer-Encoding: " + value,
                request_line=b"POST /echo HTTP/1.1") + b"0\r\n\r\n"
    refused(gw, origin, data, status=501)


def test_chunked_not_last_is_refused(gw, origin):
    """RFC 9112 section 6.3 asks for 400 when chunked is not the final coding, section 6.1 for
    501 when a coding is unknown; either refusal is acceptable here, the framing never is."""
    data = head(b"Host: a", b"Transfer-Encoding: chunked, gzip",
                request_line=b"POST /echo HTTP/1.1") + b"0\r\n\r\n"
    before = origin.counts()
    resp, closed = raw_closed(gw.port, data)
    ((status, headers, _),) = parse_responses(resp)
    assert status in (400, 501)
    assert headers["connection"] == "close" and closed
    assert origin.counts() == before


def test_chunked_applied_twice_is_refused_with_400(gw, origin):
    data = head(b"Host: a", b"Transfer-Encoding: chunked, chunked",
                request_line=b"POST /echo HTTP/1.1") + b"0\r\n\r\n"
    refused(gw, origin, data)


def test_two_transfer_encoding_lines_are_refused_with_400(gw, origin):
    data = head(b"Host: a", b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked",
                request_line=b"POST /echo HTTP/1.1") + b"0\r\n\r\n"
    refused(gw, origin, data)


def test_transfer_encoding_in_http10_request_is_refused_with_400(gw, origin):
    """RFC 9112 section 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing."""
    data = head(b"Host: a", b"Transfer-Encoding: chunked",
                request_line=b"POST /echo HTTP/1.0") + b"5\r\nhello\r\n0\r\n\r\n"
    refused(gw, origin, data)


# --- field lines ---

def test_obs_fold_is_refused_with_400(gw, origin):
    refused(gw, origin, head(b"Host: a", b"X-Folded: first", b" continued"))


def test_obs_fold_with_tab_is_refused_with_400(gw, origin):
    refused(gw, origin, head(b"Host: a", b"X-Folded: first", b"\tcontinued"))


@pytest.mark.parametrize("value", [b"a\rb", b"a\nb", b"a\x00b"], ids=["cr", "lf", "nul"])
def test_cr_lf_or_nul_inside_a_header_value_is_refused_with_400(gw, origin, value):
    refused(gw, origin, head(b"Host: a", b"X-Bad: " + value))


@pytest.mark.parametrize("char", [b"\x01", b"\x08", b"\x0b", b"\x0c", b"\x1b", b"\x1f", b"\x7f"],
                         ids=lambda c: "0x%02x" % c[0])
def test_control_character_in_a_header_value_is_refused_with_400(gw, origin, char):
    refused(gw, origin, head(b"Host: a", b"X-Bad: a" + char + b"b"))


def test_tab_and_obs_text_in_a_header_value_are_accepted(gw, origin):
    """The values RFC 9110 section 5.5 allows beside VCHAR: HTAB, SP and obs-text."""
    data = head(b"Host: a", b"X-Ok: a\tb c\xe9", b"Connection: close")
    resp, _ = raw_closed(gw.port, data)
    ((status, _, body),) = parse_responses(resp)
    assert status == 200
    assert header_values(json.loads(body), "x-ok") == ["a\tb c\xe9"]


@pytest.mark.parametrize("line", [b"X-Empty:", b"X-Empty: ", b"X-Empty: \t "],
                         ids=["bare", "space", "whitespace"])
def test_empty_header_value_is_accepted_and_forwarded(gw, origin, line):
    """RFC 9110 section 5.5: a field value may be empty."""
    resp, _ = raw_closed(gw.port, head(b"Host: a", line, b"X-After: 1", b"Connection: close"))
    ((status, _, body),) = parse_responses(resp)
    assert status == 200, resp[:300]
    doc = json.loads(body)
    assert header_values(doc, "x-empty") == [""]
    assert header_values(doc, "x-after") == ["1"]


@pytest.mark.parametrize("line", [b"X Bad: v", b"X(Bad: v", b": v", b"X-Bad : v",
                                  b"X-Bad\t: v", b"X\"Bad: v"],
                         ids=["space", "paren", "empty", "space-before-colon",
                              "tab-before-colon", "quote"])
def test_invalid_header_name_is_refused_with_400(gw, origin, line):
    refused(gw, origin, head(b"Host: a", line))


def test_header_line_without_colon_is_refused_with_400(gw, origin):
    refused(gw, origin, head(b"Host: a", b"X-No-Colon"))


# --- Host ---

def test_missing_host_in_http11_is_refused_with_400(gw, origin):
    refused(gw, origin, head(b"X-Other: 1"))


def test_missing_host_in_http10_is_accepted(gw, origin):
    resp, _ = raw_closed(gw.port, head(request_line=b"GET /echo HTTP/1.0"))
    ((status, _, _),) = parse_responses(resp)
    assert status == 200


def test_two_host_lines_are_refused_with_400(gw, origin):
    refused(gw, origin, head(b"Host: a.example", b"Host: b.example"))


def test_two_identical_host_lines_are_refused_with_400(gw, origin):
    refused(gw, origin, head(b"Host: a.example", b"Host: a.example"))


@pytest.mark.parametrize("value", [b"a b", b"a.example :80", b"a.example:80:80", b"a.example:99999",
                                   b"a.example:65536", b"u@a.example", b"a.example:8x",
                                   b"a/b", b"[::1", b""],
                         ids=["space", "space-before-port", "two-ports", "port-99999",
                              "port-65536", "userinfo", "port-not-digits", "slash",
                              "unclosed-ipv6", "empty"])
def test_malformed_host_is_refused_with_400(gw, origin, value):
    refused(gw, origin, head(b"Host: " + value))


@pytest.mark.parametrize("value", [b"a.example", b"a.example:8080", b"127.0.0.1:80", b"[::1]:80",
                                   b"A.Example."])
def test_well_formed_host_is_accepted(gw, origin, value):
    resp, _ = raw_closed(gw.port, head(b"Host: " + value, b"Connection: close"))
    ((status, _, body),) = parse_responses(resp)
    assert status == 200, resp[:300]


# --- request line and target ---

def test_absolute_form_whose_authority_differs_from_host_is_refused_with_400(gw, origin):
    data = head(b"Host: a.example", request_line=b"GET http://b.example/echo HTTP/1.1")
    refused(gw, origin, data)


def test_absolute_form_matching_host_is_forwarded_as_origin_form(gw, origin):
    data = head(b"Host: a.example:8080", b"Connection: close",
                request_line=b"GET http://a.example:8080/echo/x?q=1 HTTP/1.1")
    resp, _ = raw_closed(gw.port, data)
    ((status, _, body),) = parse_responses(resp)
    assert status == 200
    doc = json.loads(body)
    assert doc["target"] == "/echo/x?q=1"
    assert header_values(doc, "host") == ["a.example:8080"]


@pytest.mark.parametrize("request_line", [b"GET /echo HTTP/1.2", b"GET /echo HTTP/2.0",
                                          b"GET /echo HTTP/3.0"],
                         ids=["1.2", "2.0", "3.0"])
def test_unsupported_http_version_is_refused_with_505(gw, origin, request_line):
    refused(gw, origin, head(b"Host: a", request_line=request_line), status=505)


def test_http2_preface_is_refused_with_505(gw, origin):
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    refused(gw, origin, preface, status=505)


def test_connect_is_refused_with_405(gw, origin):
    data = head(b"Host: a.example:443", request_line=b"CONNECT a.example:443 HTTP/1.1")
    refused(gw, origin, data, status=405)


@pytest.mark.parametrize("target", [b"/echo/a b", b"/echo#frag", b"/echo?q=1#frag",
                                    b"/echo\x7f", b"/echo\x01", b"echo", b"*"],
                         ids=["space", "fragment", "query-fragment", "del", "control",
                              "no-slash", "asterisk-not-options"])
def test_malformed_request_target_is_refused_with_400(gw, origin, target):
    refused(gw, origin, head(b"Host: a", request_line=b"GET " + target + b" HTTP/1.1"))


def test_bare_lf_line_endings_are_refused_with_400(gw, origin):
    refused(gw, origin, b"GET /echo HTTP/1.1\nHost: a\n\n")


def test_bare_lf_after_request_line_only_is_refused_with_400(gw, origin):
    refused(gw, origin, b"GET /echo HTTP/1.1\nHost: a\r\n\r\n")


def test_lowercase_method_is_refused_with_400(gw, origin):
    refused(gw, origin, head(b"Host: a", request_line=b"get /echo HTTP/1.1"))


# --- chunked bodies ---

def chunked_post(body):
    return head(b"Host: a", b"Transfer-Encoding: chunked",
                request_line=b"POST /echo HTTP/1.1") + body


@pytest.mark.parametrize("size", [b"zz", b"5g", b"-5", b" ", b"0x5"],
                         ids=["letters", "trailing-letter", "negative", "blank", "0x-prefix"])
def test_chunk_size_that_is_not_hex_is_refused_with_400(gw, origin, size):
    refused_mid_body(gw, origin, chunked_post(size + b"\r\nhello\r\n0\r\n\r\n"))


def test_chunk_size_overflowing_64_bits_is_refused_with_400(gw, origin):
    refused_mid_body(gw, origin, chunked_post(b"1" + b"0" * 16 + b"\r\nhello\r\n0\r\n\r\n"))


def test_oversized_chunk_extension_is_refused_with_400(gw, origin):
    extension = b";name=" + b"v" * 5000
    refused_mid_body(gw, origin, chunked_post(b"5" + extension + b"\r\nhello\r\n0\r\n\r\n"))


def test_small_chunk_extension_is_accepted(gw, origin):
    extension = b";name=" + b"v" * 1000
    data = chunked_post(b"5" + extension + b"\r\nhello\r\n0\r\n\r\n")
    resp, _ = raw_closed(gw.port, data.replace(b"Host: a", b"Host: a\r\nConnection: close"))
    ((status, _, body),) = parse_responses(resp)
    assert status == 200 and b'"body_len": 5' in body


def test_chunk_data_longer_than_its_size_is_refused_with_400(gw, origin):
    refused_mid_body(gw, origin, chunked_post(b"3\r\nhello\r\n0\r\n\r\n"))


def test_refusal_ends_a_keep_alive_connection_with_earlier_requests_answered(gw, origin):
    """A good request, then a smuggling attempt on the same connection: the first is answered,
    the second refused, and nothing after the refusal is read."""
    good = head(b"Host: a", request_line=b"GET /echo/first HTTP/1.1")
    bad = head(b"Host: a", b"Content-Length: 5", b"Transfer-Encoding: chunked",
               request_line=b"POST /echo/second HTTP/1.1") + b"0\r\n\r\n"
    smuggled = head(b"Host: a", request_line=b"GET /echo/smuggled HTTP/1.1")
    resp, closed = raw_closed(gw.port, good + bad + smuggled)
    responses = parse_responses(resp)
    assert [r[0] for r in responses] == [200, 400], resp[:600]
    assert b"/echo/first" in responses[0][2]
    assert b"smuggled" not in resp
    assert closed
