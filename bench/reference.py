"""The reference: the seed guide's design ("Develop and deploy an ML application"), unchanged in
everything that matters for speed.

One model call per request (`pipeline(...)` there; `generate` here, as transformers 5 has no
translation pipeline), transformers in fp32, a synchronous FastAPI route, 2 replicas x 0.2 CPU and
every other setting at Serve's default (max_ongoing_requests 5, no batching). The only additions
are what a fair comparison needs: the model directory and forced output lengths, bound as
constructor arguments as the guide binds its model, and a JSON body like our apps take.
"""

from fastapi import FastAPI
from pydantic import BaseModel
from ray import serve


class Body(BaseModel):
    text: str
    max_length: int | None = None
    min_length: int | None = None


translate_api = FastAPI()


@serve.deployment(num_replicas=2, ray_actor_options={"num_cpus": 0.2, "num_gpus": 0})
@serve.ingress(translate_api)
class SeedTranslator:
    def __init__(self, model_dir: str, new_tokens: int):
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModelForSeq2SeqLM.from_pretrained(model_dir)
        self.new_tokens = new_tokens

    @translate_api.post("/")
    def translate(self, body: Body) -> str:
        inputs = self.tokenizer("translate English to French: " + body.text, return_tensors="pt")
        output = self.model.generate(**inputs, max_new_tokens=self.new_tokens, min_new_tokens=self.new_tokens)
        return self.tokenizer.decode(output[0], skip_special_tokens=True)


summarize_api = FastAPI()


@serve.deployment(num_replicas=2, ray_actor_options={"num_cpus": 0.2, "num_gpus": 0})
@serve.ingress(summarize_api)
class SeedSummarizer:
    def __init__(self, model_dir: str):
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModelForSeq2SeqLM.from_pretrained(model_dir)

    @summarize_api.post("/")
    def summarize(self, body: Body) -> str:
        inputs = self.tokenizer("summarize: " + body.text, return_tensors="pt")
        output = self.model.generate(**inputs, max_new_tokens=body.max_length, min_new_tokens=body.min_length)
        return self.tokenizer.decode(output[0], skip_special_tokens=True)
