"""The optional LLM fact reader (policies.llm) against a fake OpenAI-compatible server.

The server is real HTTP on 127.0.0.1 (http.server in a thread) and answers from a script; every
test runs through the ``openai`` client and through the plain ``requests`` fallback. Nothing here
waits on the clock: the timeout test's server blocks on an Event the test releases afterwards.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import ValidationError

from policies import llm, profiles
from policies.facts import FactsConfig, customer_text, extract
from policies.llm import LLMSettings
from tests.policies.classify_kit import ticket

TITLE = "豆腐发霉"
BODY = "前天在超市买的盒装豆腐，回家打开一看已经发霉变质了，我们3个人都吃了拉肚子，看病花了两万三。再不处理我就发抖音曝光！"
TEXT = f"{TITLE}\n{BODY}"
SECRET = "sk-test-Zq8dSECRETvalue"

GOOD = {
    "cause": {"key": "mould", "span": "打开一看已经发霉变质了"},
    "category": None,
    "loss_amount": {"value": 23000, "span": "看病花了两万三"},
    "people": {"value": 3, "span": "3个人"},
    "flags": [{"name": "injury", "span": "都吃了拉肚子"}, {"name": "media", "span": "我就发抖音曝光"}],
}


# ------------------------------------------------------------------------------------------------
# the fake endpoint


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    block: threading.Event | None = None  # hold the answer until the test releases it


def completion(content: str | dict[str, Any]) -> Reply:
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
    body = {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "qwen-test",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
    return Reply(body=json.dumps(body, ensure_ascii=False).encode())


def status(code: int, retry_after: str | None = None) -> Reply:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Reply(status=code, body=json.dumps({"error": {"message": "busy"}}).encode(), headers=headers)


class FakeLLM:
    """An OpenAI-compatible endpoint answering from ``script`` (one reply per request, in order)."""

    def __init__(self) -> None:
        self.script: deque[Reply] = deque()
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 -- http.server's name
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fake.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                      "json": json.loads(raw or b"null")})
                reply = fake.script.popleft() if fake.script else status(500)
                if reply.block is not None:
                    reply.block.wait(30)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json" if reply.body[:1] in (b"{", b"") else "text/html")
                    self.send_header("Content-Length", str(len(reply.body)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (the timeout test): nobody to answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    def answer(self, *replies: Reply) -> None:
        self.script.extend(replies)


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    server = FakeLLM()
    server.thread.start()
    yield server
    for reply in server.script:
        if reply.block is not None:
            reply.block.set()
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture(params=["openai", "requests"])
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test once through the openai client (the llm extra) and once without it installed."""
    if request.param == "openai":
        pytest.importorskip("openai", reason="the llm extra is not installed: pip install -e '.[llm]'")
    else:
        monkeypatch.setitem(sys.modules, "openai", None)  # `import openai` raises ImportError
    return request.param


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    llm.clear_cache()
    yield
    llm.clear_cache()


@pytest.fixture(scope="module")
def food() -> FactsConfig:
    return FactsConfig.model_validate(profiles.section("food", "facts"))


@pytest.fixture(scope="module")
def insurance() -> FactsConfig:
    return FactsConfig.model_validate(profiles.section("insurance", "facts"))


def settings(fake: FakeLLM, **kw: Any) -> LLMSettings:
    # a generous timeout: only the timeout test relies on one expiring
    return LLMSettings.model_validate({"enabled": True, "base_url": fake.url, "model": "qwen-test",
                                       "timeout": 10, **kw})


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "policies.llm" and r.levelno >= logging.WARNING]


# ------------------------------------------------------------------------------------------------
# a correct answer


def test_correct_answer_gives_facts_with_the_customers_words(fake, transport, food):
    fake.answer(completion(GOOD))
    facts = llm.read(TEXT, food, settings(fake))
    assert facts == {
        "cause": "mould", "channel": "consumer", "loss_amount": 23000.0, "people": 3,
        "flags": {"injury": True, "media": True},
        "evidence": {"cause": "「打开一看已经发霉变质了」", "channel": "「打开一看已经发霉变质了」",
                     "loss_amount": "「看病花了两万三」", "people": "「3个人」",
                     "flag:injury": "「都吃了拉肚子」", "flag:media": "「我就发抖音曝光」"},
        "origin": {"cause": "llm", "channel": "llm", "loss_amount": "llm", "people": "llm",
                   "flag:injury": "llm", "flag:media": "llm"},
    }
    [req] = fake.requests
    assert req["path"] == "/v1/chat/completions"
    sent = req["json"]
    assert (sent["model"], sent["temperature"], sent["response_format"]) == ("qwen-test", 0.0, {"type": "json_object"})
    system, user = sent["messages"]
    assert system["role"] == "system" and user["role"] == "user" and BODY in user["content"]
    # the profile's vocabulary and the corpus's definitions, in Chinese and English
    for words in ("mould: 产品发酸、发霉变质、发红", "channel_rain_mould: 运输中被雨淋湿", "media: 媒体曝光",
                  "not when negated (没有受伤", "两万三` = 23000", "只输出一个 JSON 对象", "ONE JSON object"):
        assert words in system["content"]
    agent = req["headers"].get("user-agent", "")
    assert agent.startswith("OpenAI/Python") if transport == "openai" else agent.startswith("python-requests")


def test_the_llms_facts_are_used_before_the_local_reading(fake, transport, food):
    t = ticket(TITLE, BODY)
    fake.answer(completion(GOOD))
    text_facts = llm.read(customer_text(t), food, settings(fake))
    out = extract(t, food, text_facts=text_facts)
    assert out["cause"] == "mould" and out["loss_amount"] == 23000.0 and out["people"] == 3
    assert out["origin"]["cause"] == out["origin"]["flag:media"] == "llm"
    assert out["evidence"]["cause"] == "「打开一看已经发霉变质了」"
    assert out["flags"]["many_people"]  # found by the local reader only: still there


def test_spans_compare_after_normalising_and_quote_the_customers_own_characters(fake, transport, food):
    text = "豆腐發黴了，　買的時候還好好的。"
    fake.answer(completion({"cause": {"key": "mould", "span": "「豆腐发霉了」"}, "flags": []}))
    facts = llm.read(text, food, settings(fake))
    assert facts is not None and facts["cause"] == "mould"
    assert facts["evidence"]["cause"] == "「豆腐發黴了」"


def test_thinking_and_a_fenced_answer_are_read(fake, transport, food):
    fake.answer(completion("<think>先看原因……</think>\n```json\n" + json.dumps(GOOD, ensure_ascii=False) + "\n```"))
    assert llm.read(TEXT, food, settings(fake))["cause"] == "mould"


# ------------------------------------------------------------------------------------------------
# answers that are not used


def test_wrong_json_is_not_used(fake, transport, food, caplog):
    fake.answer(completion("好的，这位客户的豆腐发霉了，原因是 mould。"))
    assert llm.read(TEXT, food, settings(fake)) is None
    assert len(fake.requests) == 1  # not retried
    [warning] = warnings_of(caplog)
    assert "not valid JSON" in warning and "local reader" in warning
    assert BODY[:6] not in warning


def test_a_schema_invalid_answer_is_not_used(fake, transport, food, caplog):
    fake.answer(completion({"cause": "mould", "flags": {"media": "发抖音"}}))
    assert llm.read(TEXT, food, settings(fake)) is None
    [warning] = warnings_of(caplog)
    assert "does not fit the schema" in warning and "cause" in warning
    assert "发抖音" not in warning  # the answer's values are not logged either


def test_a_response_that_is_not_a_chat_completion_is_not_used(fake, transport, food, caplog):
    fake.answer(Reply(body=b"<html>gateway says hello</html>"), Reply(body=b'{"choices": []}'))
    assert llm.read(TEXT, food, settings(fake)) is None
    assert llm.read(TEXT, food, settings(fake)) is None
    assert [("not a chat completion" in w) for w in warnings_of(caplog)] == [True, True]


def test_an_answer_that_is_not_used_is_not_cached(fake, transport, food):
    fake.answer(completion("not json"), completion(GOOD))
    assert llm.read(TEXT, food, settings(fake)) is None
    assert llm.read(TEXT, food, settings(fake))["cause"] == "mould"
    assert len(fake.requests) == 2


# ------------------------------------------------------------------------------------------------
# the endpoint fails


def test_timeout_gives_up_and_the_local_reader_decides(fake, transport, food, caplog):
    release = threading.Event()
    fake.answer(Reply(body=b"{}", block=release))
    try:
        assert llm.read(TEXT, food, settings(fake, timeout=0.3, max_retries=1)) is None
    finally:
        release.set()
    [warning] = warnings_of(caplog)
    assert "no answer within 0.3 s" in warning
    assert len(fake.requests) == 1  # a timeout is not retried: a second wait would double the delay


def test_429_with_retry_after_beyond_the_timeout_gives_up(fake, transport, food, caplog):
    fake.answer(status(429, "3600"))
    assert llm.read(TEXT, food, settings(fake, max_retries=3)) is None
    assert len(fake.requests) == 1
    [warning] = warnings_of(caplog)
    assert "HTTP 429, Retry-After 3600 s" in warning


def test_429_without_retry_after_gives_up(fake, transport, food, caplog):
    fake.answer(status(429))
    assert llm.read(TEXT, food, settings(fake, max_retries=3)) is None
    assert len(fake.requests) == 1
    assert "HTTP 429" in warnings_of(caplog)[0]


@pytest.mark.parametrize("first", [status(429, "0"), status(503), status(502, "0")], ids=["429", "503", "502"])
def test_a_transient_failure_is_retried(fake, transport, food, caplog, first):
    fake.answer(first, completion(GOOD))
    assert llm.read(TEXT, food, settings(fake, max_retries=1))["cause"] == "mould"
    assert len(fake.requests) == 2 and not warnings_of(caplog)


def test_retries_are_bounded(fake, transport, food, caplog):
    fake.answer(status(429, "0"), status(429, "0"), completion(GOOD))
    assert llm.read(TEXT, food, settings(fake, max_retries=1)) is None
    assert len(fake.requests) == 2
    assert "HTTP 429" in warnings_of(caplog)[0]


def test_an_http_error_is_not_retried(fake, transport, food, caplog):
    fake.answer(status(400))
    assert llm.read(TEXT, food, settings(fake, max_retries=3)) is None
    assert len(fake.requests) == 1 and "HTTP 400" in warnings_of(caplog)[0]


def test_connection_refused(transport, food, caplog):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    conf = LLMSettings(enabled=True, base_url=f"http://127.0.0.1:{port}/v1", model="m", max_retries=0)
    assert llm.read(TEXT, food, conf) is None
    [warning] = warnings_of(caplog)
    assert "connection failed" in warning


# ------------------------------------------------------------------------------------------------
# each fact checked against the text and the profile


def test_a_hallucinated_span_drops_that_fact(fake, transport, food):
    answer = {**GOOD, "flags": [*GOOD["flags"], {"name": "lawsuit", "span": "我要去法院起诉你们"}]}
    fake.answer(completion(answer))
    facts = llm.read(TEXT, food, settings(fake))
    assert facts is not None and facts["flags"] == {"injury": True, "media": True}
    assert "flag:lawsuit" not in facts["evidence"] and facts["cause"] == "mould"


def test_an_answer_of_mostly_invented_spans_is_not_used(fake, transport, food, caplog):
    fake.answer(completion({"cause": {"key": "mould", "span": "打开一看已经发霉变质了"},
                            "flags": [{"name": "lawsuit", "span": "我要去法院起诉你们"},
                                      {"name": "regulator", "span": "已经打了12315"}]}))
    assert llm.read(TEXT, food, settings(fake)) is None
    [warning] = warnings_of(caplog)
    assert "2 of 3 spans are not in the text" in warning


def test_an_out_of_vocabulary_cause_category_or_flag_is_dropped(fake, transport, food):
    fake.answer(completion({**GOOD, "cause": {"key": "产品发酸、发霉变质、发红", "span": "已经发霉变质了"},
                            "category": {"key": "business", "span": "盒装豆腐"},
                            "flags": [*GOOD["flags"], {"name": "vip_customer", "span": "超市"}]}))
    facts = llm.read(TEXT, food, settings(fake))
    assert "cause" not in facts and "channel" not in facts and "category" not in facts  # food has no categories
    assert facts["flags"] == {"injury": True, "media": True} and facts["loss_amount"] == 23000.0


def test_category_and_the_profiles_own_flags(fake, transport, insurance):
    text = "理赔员吃拿卡要，不给红包就不给我理赔，少赔了我8000元，我要向银保监投诉。"
    fake.answer(completion({"cause": {"key": "mould", "span": "理赔员"},
                            "category": {"key": "discipline", "span": "理赔员吃拿卡要"},
                            "loss_amount": {"value": 8000, "span": "少赔了我8000元"},
                            "flags": [{"name": "regulator", "span": "向银保监投诉"}]}))
    facts = llm.read(text, insurance, settings(fake))
    assert "cause" not in facts  # insurance has no causes
    assert (facts["category"], facts["loss_amount"], facts["flags"]) == ("discipline", 8000.0, {"regulator": True})


@pytest.mark.parametrize("fact, value, span", [
    ("loss_amount", 2300, "看病花了两万三"),  # the span says 23000
    ("loss_amount", 23000, "前天在超市"),  # no amount at all
    ("loss_amount", -23000, "看病花了两万三"),
    ("people", 4, "3个人"),
    ("people", 3, "我们"),
])
def test_a_number_the_span_does_not_say_is_dropped(fake, transport, food, fact, value, span):
    fake.answer(completion({**GOOD, fact: {"value": value, "span": span}}))
    facts = llm.read(TEXT, food, settings(fake))
    assert fact not in facts and fact not in facts["evidence"] and facts["cause"] == "mould"


def test_amounts_in_every_numeral_form(fake, transport, food):
    text = "维修费1.2万，另外医药费12,800元。"
    for value, span in ((12000, "维修费1.2万"), (12800, "12,800元")):
        llm.clear_cache()
        fake.answer(completion({"loss_amount": {"value": value, "span": span}}))
        assert llm.read(text, food, settings(fake))["loss_amount"] == value


# ------------------------------------------------------------------------------------------------
# the cache


def test_a_text_read_again_makes_no_second_request(fake, transport, food):
    fake.answer(completion(GOOD))
    first = llm.read(TEXT, food, settings(fake))
    again = llm.read(TEXT, food, settings(fake))
    assert first == again and len(fake.requests) == 1
    # the same words in traditional, full-width form are the same text; quoted as written
    variant = TEXT.replace("发霉", "發黴").replace("3", "３")
    facts = llm.read(variant, food, settings(fake))
    assert len(fake.requests) == 1 and facts["evidence"]["cause"] == "「打开一看已经發黴变质了」"
    assert facts["evidence"]["people"] == "「３个人」"


def test_the_cache_key_holds_model_and_profile(fake, transport, food, insurance):
    fake.answer(completion(GOOD), completion(GOOD), completion(GOOD))
    llm.read(TEXT, food, settings(fake))
    llm.read(TEXT, food, settings(fake, model="deepseek-test"))
    llm.read(TEXT, insurance, settings(fake))
    llm.read(TEXT, insurance, settings(fake))
    assert len(fake.requests) == 3


def test_cache_size_zero_asks_every_time(fake, transport, food):
    fake.answer(completion(GOOD), completion(GOOD))
    llm.read(TEXT, food, settings(fake, cache_size=0))
    llm.read(TEXT, food, settings(fake, cache_size=0))
    assert len(fake.requests) == 2


@pytest.mark.parametrize("cachetools", [True, False], ids=["cachetools", "fallback"])
def test_the_cache_is_bounded(fake, transport, food, monkeypatch, cachetools):
    if not cachetools:
        monkeypatch.setitem(sys.modules, "cachetools", None)
    fake.answer(*(completion(GOOD) for _ in range(4)))
    for text in (TEXT, TEXT + "。", TEXT + "！", TEXT):  # the first was pushed out by the next two
        llm.read(text, food, settings(fake, cache_size=2))
    assert len(fake.requests) == 4


# ------------------------------------------------------------------------------------------------
# the key and the logs


def test_the_key_comes_from_the_named_variable_and_never_reaches_the_logs(fake, transport, food, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG, logger="policies.llm")
    monkeypatch.setenv("MY_LLM_KEY", SECRET)
    monkeypatch.setenv("KESU_LLM_API_KEY", "not-this-one")
    conf = settings(fake, api_key_env="MY_LLM_KEY")
    fake.answer(completion({**GOOD, "flags": [{"name": "lawsuit", "span": "编的"}, *GOOD["flags"]]}), status(500))
    assert llm.read(TEXT, food, conf)["cause"] == "mould"
    assert llm.read(TEXT + "。", food, conf) is None
    assert [r["headers"].get("authorization") for r in fake.requests] == [f"Bearer {SECRET}"] * 2
    assert caplog.records  # a debug line (the dropped flag) and a warning (HTTP 500)
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert SECRET not in logged and BODY[:8] not in logged and "拉肚子" not in logged
    assert SECRET not in repr(conf) and SECRET not in conf.model_dump_json()


def test_without_a_key_no_authorization_is_sent(fake, food, monkeypatch):
    monkeypatch.setitem(sys.modules, "openai", None)
    monkeypatch.delenv("KESU_LLM_API_KEY", raising=False)
    fake.answer(completion(GOOD))
    assert llm.read(TEXT, food, settings(fake)) is not None
    assert "authorization" not in fake.requests[0]["headers"]


# ------------------------------------------------------------------------------------------------
# settings


def test_settings_default_to_off_and_off_asks_nothing(fake, food):
    conf = LLMSettings.model_validate(food.llm)
    assert not conf.enabled and conf.api_key_env == "KESU_LLM_API_KEY" and conf.timeout == 8.0
    assert llm.read(TEXT, food, conf) is None
    assert llm.read(TEXT, food, LLMSettings(base_url=fake.url, model="m")) is None
    assert fake.requests == []


def test_enabled_needs_an_endpoint_and_a_model():
    with pytest.raises(ValidationError, match="enabled = true needs base_url and model"):
        LLMSettings(enabled=True)
    with pytest.raises(ValidationError, match="needs model"):
        LLMSettings(enabled=True, base_url="http://127.0.0.1:11434/v1")
    assert LLMSettings(enabled=True, base_url="http://127.0.0.1:11434/v1/", model="qwen2.5:7b").base_url \
        == "http://127.0.0.1:11434/v1"


@pytest.mark.parametrize("values, message", [
    ({"api_key_env": "sk-live-abcdef123456"}, "NAME of the environment variable"),
    ({"base_url": "ftp://llm.example/v1"}, "http\\(s\\) URL"),
    ({"base_url": "https://user:sk-live-abcdef123456@llm.example/v1"}, "must not hold credentials"),
    ({"timeout": 0}, "greater than 0"),
    ({"api_key": "sk-live-abcdef123456"}, "Extra inputs are not permitted"),
])
def test_invalid_settings_are_refused_without_echoing_the_value(values, message):
    with pytest.raises(ValidationError, match=message) as info:
        LLMSettings.model_validate(values)
    assert "abcdef123456" not in str(info.value)


def test_enabled_in_the_profile_the_host_reads_with_the_llm_and_the_note_says_so(fake, transport):
    """[policies.facts.llm] enabled: the plugin host's facts come from the model (origin "llm",
    the model's span quoted in the tier note); the agent's field still wins over the model."""
    from tests.policies.classify_kit import evaluate, make_host, one

    section = {"facts": {"llm": {"enabled": True, "base_url": fake.url, "model": "qwen-test", "timeout": 10}}}
    host = make_host("food", keep=("facts", "severity"), sections=section)
    fake.answer(completion(GOOD))
    result = evaluate(host, ticket(TITLE, BODY))
    assert result.facts.origin["cause"] == "llm" and result.facts.cause == "mould"
    prio = one(result, "severity", "set_priority")
    assert prio.reason == "A类（重大），依据：原因 产品发酸、发霉变质、发红，模型读取客户原话「打开一看已经发霉变质了」"
    fake.answer(completion(GOOD))
    agent = evaluate(host, ticket(TITLE, BODY, fields={"complaint_cause": "burnt"}))
    assert (agent.facts.cause, agent.facts.origin["cause"]) == ("burnt", "field")
