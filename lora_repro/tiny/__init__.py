"""The tiny world: what the tiny profile makes for itself instead of downloading it.

* ``tiny.synthetic``: the offline world (people, restaurants, cities, tables, triples) and the
  generators that emit every task's rows in the hub datasets' schemas, plus the pretraining corpus
  (``pretraining_corpus``) drawn from the same world;
* ``tiny.tokenizer``: the byte-level BPE trained on that corpus (``tiny_tokenizer``);
* ``tiny.pretrain``: pretraining the toy-width models of the paper's architectures on that corpus
  (``ensure_pretrained``, cached by a key naming the recipe and the tokenizer; ``with_tiny_path``
  gives a model config its pretrained directory), and ``lora-repro pretrain`` (``tiny.pretrain_cli``).

``tasks`` imports the generators and the tokenizer, pretraining imports ``models`` (to build the
architecture); ``models`` and ``tasks`` import neither each other nor, in ``models``' case, this
package: the trainer hands model loading a directory.
"""
