"""Issued credentials in the formats they travel in: Open Badges 3.0 documents signed as Data Integrity
proofs and as VC-JWTs, Bitstring status lists, the Europass (ELM 3) export and the PDF certificate.

Everything here works on plain data (`facts.AwardFacts`) and keys: no database, no request. The services
gather the facts of an award and store what these functions produce; a verifier needs only this package,
the credential, the issuer's public keys and the status list.
"""
