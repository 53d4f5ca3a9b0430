"""The Python baseline of scripts/bench-serve-baseline.sh: FastAPI with torch.jit.load, the
same TorchScript model as `mlpc serve`, one row per request, the model's four input values
in the request (a Python server fetches no features), one intra-op thread per worker.

    MODEL=path/to/model.pt uvicorn serve_baseline:app --workers 2 --port 18282
"""

import os

import torch
from fastapi import FastAPI, Request

torch.set_num_threads(1)
model = torch.jit.load(os.environ["MODEL"])
model.eval()
app = FastAPI()


# `async def` and the raw body: the fastest FastAPI form (a plain `def` endpoint goes through
# a thread pool, and a pydantic model adds validation; measured here, both cut throughput).
@app.post("/predict")
async def predict(request: Request):
    body = await request.json()
    with torch.no_grad():
        score = model(torch.tensor([body["inputs"]], dtype=torch.float32)).reshape(-1)[0].item()
    return {"outputs": {"score": score}}
