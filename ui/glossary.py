"""One-line, plain-words help for the lab's jargon, shown as ``help=`` tooltips where each term appears."""

VERSION = ("A short code for the exact documents and chunking settings: it changes whenever either changes, so a "
           "result or an adapter can say which documents it was made with.")
FINGERPRINT = ("A short code computed from the model's or adapter's weights: the same code means exactly the same "
               "weights, so two results with it were made by the same model. The precision the weights are held in "
               "(fp32, bf16, int8), shown beside it, does not change the code.")
PRECISION = ("How the model's weights are held: fp32 (4 bytes a weight, the reference), bf16 (2 bytes; fast on GPUs and "
             "on CPUs with AMX or AVX512-BF16), int8 (about 1 byte, weight-only). Lower precision needs less memory "
             "and can change some answers slightly; auto picks what this machine is good at.")
RANK = ("How much the adapter can learn: the size of the small matrices LoRA adds (higher learns more, trains "
        "slower and overfits more easily).")
ALPHA = "How strongly the adapter's changes are applied (usually twice the rank)."
DROPOUT = "Share of the adapter's signals switched off at random while training, so it learns rules rather than lines."
TARGET_MODULES = ("Which layers of the model get an adapter: q_proj/k_proj/v_proj/o_proj are attention, "
                  "gate/up/down_proj the feed-forward part. All of them learns most.")
LEARNING_RATE = "How big each training step's change is: too high and training diverges, too low and it learns little."
BATCH = "Examples read per step; more is smoother but needs more memory."
GRAD_ACCUM = "Steps whose changes are added up before applying them: a bigger batch without the memory."
MAX_LEN = "Longer examples are cut to this many tokens."
SEED = "Fixes the random choices, so the same settings train the same adapter."
RAFT = ("Retrieval-augmented fine-tuning: training examples that come with retrieved passages, some without the "
        "answer, so the adapter learns to read passages and to say \"I don't know\".")
ORACLE = ("The base model given the passages of the question's own source document: RAG with perfect retrieval, "
          "an upper bound for what better search could give.")
TOKEN_F1 = "Word overlap between the answer and the reference (0 to 1), for questions without key facts."
MRR = ("Mean reciprocal rank: 1 when the right document comes first in the search results, 1/2 when second, "
       "and so on; 0 when it is missing.")
METRICS = ("Key-fact accuracy: share of answers that state every key fact. Token F1: " + TOKEN_F1 + " Retrieval hit "
           "rate: share of questions whose source document was retrieved. Retrieval MRR: " + MRR + " Brackets: the "
           "95% interval; with few questions it is wide (all right or all wrong: the Wilson interval of that share).")
SUPPORTED = ("A sentence of the passages states this answer's numbers and names and is about your question. It is not "
             "proof that the answer is right: a small model sometimes copies a fact that answers another question "
             "(on the demo test set, with the bundled 135M model, 3 of 42 RAG answers were wrong and still had one).")
