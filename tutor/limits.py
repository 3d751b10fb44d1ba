"""Every size limit of tutor, in one place: read by the commands (``tutor.cli``), the lessons
(``tutor.lessons``) and the README test, so that what README promises is what is enforced.

The limits keep every run quick and its output readable; the commands check them before
anything large is allocated. Imports nothing (``tutor --help`` reads the help texts).
"""

from __future__ import annotations

# --- what a command line may give -------------------------------------------------------
MAX_TOKENS = 32            # words in a sentence
MAX_DIM = 64               # rows or columns of a matrix given; --dim, --dk
MAX_HEADS = 16             # --heads
MAX_POSITIONS = 128        # rows of a positional-encoding table (posenc --positions)
MAX_VECTOR = 256           # numbers in an inline vector (softmax, layernorm)
MAX_FILE_BYTES = 4_000_000  # a matrix file (.npy, .json, .csv)
MAX_ABS = 1e6              # the size of any number given: products and squares stay finite
MAX_PRECISION = 10         # --precision, decimals shown
MIN_TEMPERATURE = 1e-6     # softmax --temperature, generate --temperature: the smallest T
SEED_LIMIT = 2**32         # --seed and a lesson's seed: 0 <= seed < SEED_LIMIT

# --- a real pretrained model (--model: attention, heads, context) ---------------------------
MAX_MODEL_TOKENS = 64      # the model's own tokens of a sentence ([CLS] and [SEP] included)
MAX_BPE_CHARS = 200        # characters of tutor bpe's text (every merge is shown or recorded)
MAX_BPE_MERGES_SHOWN = 16  # merges tutor bpe lists on screen (the table: 8); beyond, a count
MAX_VOCAB = 64             # decoder-only --vocab: rows of a random embedding matrix
# --- the screen -----------------------------------------------------------------------------
DEFAULT_WIDTH = 80         # columns when neither COLUMNS nor a terminal says otherwise
MIN_WIDTH, MAX_WIDTH = 20, 400   # COLUMNS or a terminal's width is kept within these

# --- the encoder/decoder stack ------------------------------------------------------------
MAX_LAYERS = 6             # --layers of a random model; the layers per stack of --weights
MAX_FF = 256               # --ff, the feed-forward width of a random model
# a run at these (benchmarks/bench_memory.py) finishes in seconds within 2 GB, --format json
# included (every step of item 1, ~18 million numbers); 16 items of 512 positions and 2 GiB of
# weights ran 300 s and past 7.7 GB: the recorded steps of one item grow as positions²
MAX_BATCH = 4              # batch items of --src-vectors / --tgt-vectors
MAX_SEQ = 64               # positions of --src-vectors / --tgt-vectors
MAX_MODEL_DIM = 512        # d_model of a --weights model or of given vectors (the base model's)
MAX_WEIGHTS_BYTES = 384 * 2**20  # the arrays of a --weights file, before any is read

# --- tutor scaling and the lessons' dot-growth ----------------------------------------------
MAX_DK = 4096              # the widest dk
MAX_DK_VALUES = 8          # how many dk values at once
MIN_SAMPLES, MAX_SAMPLES = 10, 20000   # random queries per dk
MIN_KEYS, MAX_KEYS = 2, 64             # keys per query
MAX_ELEMENTS = 30_000_000  # samples x keys x the largest dk: the random keys drawn for one dk
MAX_TRAIN_STEPS = 3000     # scaling --train: --steps of each run (two runs per dk)
MAX_TRAIN_DIM = 128        # scaling --train: --dim, the d_model every dk must divide
MAX_GAIN = 100             # scaling --train: --gain, the factor on the initial query/key weights

# --- tutor train (a step's forward and backward pass must fit in memory: 1 GB at these) ------
MAX_RUN_STEPS = 1_000_000  # --steps
MAX_RUN_BATCH = 256        # --batch-size (1024 took 3.6 GB and 30 s a step)
MAX_RUN_DIM = 256          # --dim
MAX_RUN_FF = 1024          # --ff
MAX_RUN_LAYERS = 6         # --layers (encoder and decoder each)

# --- tutor generate (the decoding library checks the same limits) -------------------------
MAX_BEAM_SIZE = 16         # --beam: wider makes each step's table of live beams unreadable
MAX_NEW_TOKENS = 1024      # --max-new-tokens: far beyond the toy models' answers

# --- a lesson's examples (they must read well in 80 columns) --------------------------------
MAX_LESSON_WORDS = 8       # the learner's own sentence
MAX_LESSON_DIM = 8         # d_model of a lesson's example
MAX_LESSON_POSITIONS = 64  # rows of a lesson's positional-encoding table

# --- files tutor reads: only regular files, each kind refused above its byte cap ------------
# (checked from the file's size before anything is read; a FIFO or a device is refused)
MAX_NESTING = 100                    # JSON/TOML nesting depth of any file read
MAX_KEY_PARTS = 20                   # parts of a TOML dotted key (a.b.c: 3)
MAX_CONFIG_BYTES = 1_000_000         # a model folder's config.json, tokenizer_config.json
MAX_LESSON_FILE_BYTES = 256_000      # a lesson's .toml, course.toml (the largest ships 8 KB)
MAX_PROGRESS_BYTES = 2_000_000       # the lessons' progress.json (set aside when above)
MAX_CHECKPOINT_BYTES = 512 * 2**20   # a checkpoint's arrays (tutor train --resume, a model file)
MAX_META_BYTES = 1_000_000           # a checkpoint's meta.json entry
MAX_MODEL_FILE_BYTES = 600_000_000   # a model folder's weights (GPT-2 small: 548 MB)
MAX_HEADER_BYTES = 1_000_000         # a .safetensors header (MiniLM's: 10 KB)
MAX_TOKENIZER_BYTES = 12_000_000     # tokenizer.json, vocab.txt, vocab.json, merges.txt
MAX_VOCAB_TOKENS = 300_000           # tokens of vocab.txt / vocab.json (SmolLM2: 49,152)
