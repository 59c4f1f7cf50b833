"""OpenAI's official Python client against the server: a chat completion with an input_audio part,
streamed and not, and the model list. Usage: openai_client.py BASE_URL WAV_FILE MODEL API_KEY"""
import base64
import sys

from openai import OpenAI

base_url, wav, model, key = sys.argv[1:5]
client = OpenAI(base_url=base_url, api_key=key)
with open(wav, "rb") as f:
    data = base64.b64encode(f.read()).decode()
messages = [{"role": "user", "content": [
    {"type": "text", "text": "What is the key of this song?"},
    {"type": "input_audio", "input_audio": {"data": data, "format": "wav"}},
]}]

models = client.models.list()
assert [m.id for m in models.data] == [model], models

reply = client.chat.completions.create(model=model, messages=messages, max_tokens=6)
choice = reply.choices[0]
assert choice.message.role == "assistant", reply
assert isinstance(choice.message.content, str), reply
assert choice.finish_reason in ("stop", "length"), reply
assert reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens <= 6, reply

pieces = []
finish = None
for chunk in client.chat.completions.create(
        model=model, messages=messages, max_tokens=6, stream=True):
    if not chunk.choices:
        continue
    pieces.append(chunk.choices[0].delta.content or "")
    finish = chunk.choices[0].finish_reason or finish
assert "".join(pieces) == choice.message.content, (pieces, choice.message.content)
assert finish in ("stop", "length"), finish

try:
    client.chat.completions.create(model="no-such-model", messages=messages, max_tokens=2)
    raise AssertionError("an unknown model was answered")
except Exception as e:  # the client raises NotFoundError with the server's message
    assert "does not exist" in str(e), e

print("openai client ok:", repr(choice.message.content))
