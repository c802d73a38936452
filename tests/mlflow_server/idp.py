"""A test identity provider, run with the MLflow test environment's Python (PyJWT, cryptography).

    python idp.py DIR < requests.json

writes DIR/jwks.json (the public keys) and prints {name: token} for the requests, each
{"name", "claims", "key": "idp"|"stranger"}; `exp`/`iat` in claims are seconds from now.
"""

import json
import sys
import time
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


def main() -> None:
    out = Path(sys.argv[1])
    keys = {k: rsa.generate_private_key(public_exponent=65537, key_size=2048)
            for k in ("idp", "stranger")}
    jwk = json.loads(RSAAlgorithm.to_jwk(keys["idp"].public_key()))
    jwk.update(kid="idp-1", use="sig", alg="RS256")
    (out / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    now = int(time.time())
    tokens = {}
    for req in json.load(sys.stdin):
        claims = dict(req["claims"])
        for c in ("exp", "iat", "nbf"):
            if c in claims:
                claims[c] = now + claims[c]
        tokens[req["name"]] = jwt.encode(claims, keys[req.get("key", "idp")], algorithm="RS256",
                                         headers={"kid": "idp-1"})
    print(json.dumps(tokens))


if __name__ == "__main__":
    main()
