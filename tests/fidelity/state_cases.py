"""The state corpus: random seeds, process-wide settings, changes to shared code, files (issue #13).

Same shape as identity_cases: (id, cells, check expressions[, extra]). `extra`
may give `files` (name -> content, written into the notebook's folder first).
The preamble is plain cells' shared code: imports only.
"""

PREAMBLE = "import os\nimport sys\nimport random\nimport warnings\nimport numpy as np\nimport pandas as pd"

SEEDS = [
    ("seed_numpy_then_draw", ["np.random.seed(0)", "X = np.random.randn(5, 2)", "noise = np.random.randn(5)"],
     "X.round(6).tolist(), noise.round(6).tolist()"),
    ("seed_numpy_three_draws", ["np.random.seed(1)", "a = np.random.rand()", "b = np.random.rand()", "c = np.random.rand()"],
     "round(a, 8), round(b, 8), round(c, 8)"),
    ("seed_numpy_with_draw_same_step", ["np.random.seed(2)\nfirst = np.random.randint(100)", "second = np.random.randint(100)"],
     "first, second"),
    ("seed_numpy_reseed_later", ["np.random.seed(0)", "a = np.random.rand()", "np.random.seed(0)", "b = np.random.rand()"],
     "a == b, round(b, 8)"),
    ("seed_numpy_nondrawing_between", ["np.random.seed(3)", "k = 5", "v = np.random.randint(1000, size=k)"], "v.tolist()"),
    ("seed_numpy_choice", ["np.random.seed(4)", "items = ['a', 'b', 'c', 'd']", "pick = np.random.choice(items, 2).tolist()"],
     "pick"),
    ("seed_numpy_permutation", ["np.random.seed(5)", "idx = np.random.permutation(6)"], "idx.tolist()"),
    ("seed_numpy_shuffle_list", ["np.random.seed(6)", "xs = list(range(5))", "np.random.shuffle(xs)"], "xs"),
    ("seed_random_shuffle", ["random.seed(0)", "data = list(range(8))", "random.shuffle(data)"], "data"),
    ("seed_random_draws", ["random.seed(7)", "a = random.random()", "b = random.randint(0, 100)"], "round(a, 8), b"),
    ("seed_random_sample", ["random.seed(8)", "s = random.sample(range(50), 4)"], "s"),
    ("seed_both_generators", ["random.seed(1)\nnp.random.seed(1)", "r = random.random()", "n = float(np.random.rand())"],
     "round(r, 8), round(n, 8)"),
    ("seed_draw_in_helper", ["np.random.seed(9)", "def noisy(x):\n    return x + np.random.rand()\ny = noisy(1.0)"],
     "round(y, 8)"),
    ("seed_pandas_sample", ["np.random.seed(10)", "df = pd.DataFrame({'a': range(10)})", "s = df.sample(3)['a'].tolist()"],
     "s"),
    ("seed_sklearn_forest", [
        "from sklearn.ensemble import RandomForestClassifier\nfrom sklearn.datasets import make_classification\nnp.random.seed(42)",
        "from sklearn.datasets import make_classification\nX, y = make_classification(n_samples=60, random_state=0)",
        "from sklearn.ensemble import RandomForestClassifier\nclf = RandomForestClassifier(n_estimators=5).fit(X, y)",
        "acc = float(clf.score(X[:30], y[:30]))\nimp = clf.feature_importances_.round(6).tolist()"],
     "acc, imp"),
    ("seed_sklearn_split", [
        "np.random.seed(11)", "from sklearn.model_selection import train_test_split\nX = np.arange(20).reshape(10, 2)",
        "from sklearn.model_selection import train_test_split\ntr, te = train_test_split(X, test_size=0.3)"],
     "tr.tolist()"),
    ("seed_sklearn_kmeans", [
        "np.random.seed(12)", "X = np.random.rand(30, 2)",
        "from sklearn.cluster import KMeans\nkm = KMeans(n_clusters=2, n_init=1).fit(X)\ncenters = sorted(km.cluster_centers_.round(6).tolist())"],
     "centers"),
    ("seed_two_independent_nondrawing", ["np.random.seed(13)", "a = [1, 2]", "b = {'k': 3}", "z = np.random.rand()"],
     "a, b, round(z, 8)"),
    ("seed_generator_value", ["rng = np.random.default_rng(0)", "a = rng.random()", "b = rng.random()"],
     "round(a, 8), round(b, 8)"),
    ("seed_random_instance", ["r = random.Random(5)", "x = r.random()", "y = r.random()"], "round(x, 8), round(y, 8)"),
    ("seed_draw_loop", ["np.random.seed(14)", "vals = []\nfor _ in range(3):\n    vals.append(float(np.random.rand()))", "more = float(np.random.rand())"],
     "[round(v, 8) for v in vals], round(more, 8)"),
    ("seed_torch", ["import torch\ntorch.manual_seed(0)", "import torch\nt = torch.rand(3).tolist()"],
     "[round(v, 6) for v in t]", {"requires": "torch"}),
    ("seed_state_saved", ["np.random.seed(15)", "state = np.random.get_state()", "a = np.random.rand()", "np.random.set_state(state)\nb = np.random.rand()"],
     "a == b"),
]

PROCESS = [
    ("env_set_then_read", ["os.environ['MLPIPE_T_FLAG'] = 'on'", "flag = os.environ.get('MLPIPE_T_FLAG')"], "flag"),
    ("env_set_two_steps_later", ["os.environ['MLPIPE_T_A'] = '1'", "x = 1", "y = os.getenv('MLPIPE_T_A', 'unset')"], "x, y"),
    ("env_delete", ["os.environ['MLPIPE_T_D'] = 'x'", "del os.environ['MLPIPE_T_D']", "d = 'MLPIPE_T_D' in os.environ"], "d"),
    ("env_setdefault", ["os.environ.setdefault('MLPIPE_T_S', 'first')", "os.environ.setdefault('MLPIPE_T_S', 'second')",
                        "s = os.environ['MLPIPE_T_S']"], "s"),
    ("pandas_option", ["pd.set_option('display.max_rows', 3)", "opt = pd.get_option('display.max_rows')"], "opt"),
    ("pandas_option_repr", ["pd.set_option('display.precision', 2)", "df = pd.DataFrame({'a': [1.23456]})", "text = repr(df)"],
     "text"),
    ("numpy_printoptions", ["np.set_printoptions(precision=2)", "text = repr(np.array([1.23456]))"], "text"),
    ("sklearn_config", ["import sklearn\nsklearn.set_config(assume_finite=True)",
                        "import sklearn\nfinite = sklearn.get_config()['assume_finite']"], "finite"),
    ("warnings_filter", ["warnings.filterwarnings('error', category=UserWarning)",
                         "try:\n    warnings.warn('boom')\n    caught = 'no'\nexcept UserWarning:\n    caught = 'raised'"],
     "caught"),
    ("sys_path_append", ["sys.path.append('lib')", "import helper_mod\nval = helper_mod.VALUE"], "val",
     {"files": {"lib/helper_mod.py": "VALUE = 41\n"}}),
    ("sys_path_insert", ["sys.path.insert(0, 'lib2')", "from helper2 import twice\nr = twice(4)"], "r",
     {"files": {"lib2/helper2.py": "def twice(x):\n    return 2 * x\n"}}),
    ("chdir_then_read", ["os.chdir('sub')", "with open('data.txt') as fh:\n    text = fh.read()"], "text",
     {"files": {"sub/data.txt": "inside"}}),
    ("chdir_cwd_name", ["os.chdir('sub')", "where = os.path.basename(os.getcwd())"], "where",
     {"files": {"sub/keep.txt": ""}}),
    ("recursion_limit", ["sys.setrecursionlimit(4321)", "lim = sys.getrecursionlimit()"], "lim"),
]

SHARED_CODE = [
    ("class_attr_patch", ["class Config:\n    lr = 0.1", "Config.lr = 0.01", "seen = Config.lr"], "seen"),
    ("class_attr_patch_two_steps", ["class Cfg:\n    epochs = 1", "Cfg.epochs = 5", "x = 1", "e = Cfg.epochs"], "e"),
    ("method_patch", ["class Model:\n    def predict(self):\n        return 'slow'",
                      "def fast_predict(self):\n    return 'fast'\nModel.predict = fast_predict",
                      "out = Model().predict()"], "out"),
    ("class_counter", ["class Counter:\n    n = 0", "Counter.n += 1", "Counter.n += 1", "total = Counter.n"], "total"),
    ("function_attr", ["def f():\n    return 1", "f.tag = 'x'", "t = f.tag"], "t"),
    ("module_attr_set", ["import types\nsettings = types.SimpleNamespace(mode='a')", "settings.mode = 'b'", "m = settings.mode"],
     "m"),
    ("imported_module_attr", ["import json", "json.MLPIPE_MARK = 3", "mark = getattr(json, 'MLPIPE_MARK', None)"], "mark"),
    ("class_registry", ["class Registry:\n    items = []", "Registry.items.append('a')", "Registry.items.append('b')",
                        "items = list(Registry.items)"], "items"),
]

FILES = [
    ("file_write_read", ["with open('out.txt', 'w') as fh:\n    fh.write('hello')", "with open('out.txt') as fh:\n    got = fh.read()"],
     "got"),
    ("file_csv_roundtrip", ["pd.DataFrame({'a': [1, 2]}).to_csv('out.csv', index=False)", "back = pd.read_csv('out.csv')['a'].tolist()"],
     "back"),
    ("file_append", ["with open('log.txt', 'w') as fh:\n    fh.write('a')", "with open('log.txt', 'a') as fh:\n    fh.write('b')",
                     "with open('log.txt') as fh:\n    log = fh.read()"], "log"),
    ("file_overwrite", ["open('v.txt', 'w').write('1')", "open('v.txt', 'w').write('2')", "v = open('v.txt').read()"], "v"),
    ("file_rename", ["open('a.txt', 'w').write('x')", "os.rename('a.txt', 'b.txt')", "exists = (os.path.exists('a.txt'), open('b.txt').read())"],
     "exists"),
    ("file_remove", ["open('gone.txt', 'w').write('x')", "os.remove('gone.txt')", "left = os.path.exists('gone.txt')"], "left"),
    ("file_makedirs_walk", ["os.makedirs('out/sub', exist_ok=True)", "open('out/sub/f.txt', 'w').write('1')",
                            "found = sorted(os.path.join(d, f) for d, _, fs in os.walk('out') for f in fs)"], "found"),
    ("file_read_existing", ["with open('data.txt') as fh:\n    raw = fh.read()", "n = len(raw)"], "n",
     {"files": {"data.txt": "abcdef"}}),
    ("file_numpy_save_load", ["np.save('arr.npy', np.arange(4))", "arr = np.load('arr.npy').tolist()"], "arr"),
    ("file_json", ["import json\njson.dump({'k': 1}, open('c.json', 'w'))", "import json\ncfg = json.load(open('c.json'))"], "cfg"),
    ("file_pathlib", ["from pathlib import Path\nPath('p.txt').write_text('pl')", "from pathlib import Path\nt = Path('p.txt').read_text()"],
     "t"),
    ("file_listdir", ["os.makedirs('d', exist_ok=True)\nopen('d/1.txt', 'w').write('')", "open('d/2.txt', 'w').write('')",
                      "names = sorted(os.listdir('d'))"], "names"),
    ("file_write_in_helper", ["def dump(text):\n    with open('h.txt', 'w') as fh:\n        fh.write(text)\ndump('via helper')",
                              "h = open('h.txt').read()"], "h"),
    ("file_rmtree", ["import shutil\nos.makedirs('tree/x', exist_ok=True)", "import shutil\nshutil.rmtree('tree')",
                     "gone = not os.path.exists('tree')"], "gone"),
    ("file_parquet_roundtrip", ["pd.DataFrame({'a': [1, 2, 3]}).to_parquet('t.parquet')",
                                "pq = pd.read_parquet('t.parquet')['a'].sum().item()"], "pq"),
    ("file_shutil_copy", ["open('src.txt', 'w').write('copied')", "import shutil\nshutil.copy('src.txt', 'dst.txt')",
                          "dst = open('dst.txt').read()"], "dst"),
    ("file_glob", ["os.makedirs('parts', exist_ok=True)\nopen('parts/p1.csv', 'w').write('1')",
                   "open('parts/p2.csv', 'w').write('2')",
                   "import glob\nparts = sorted(glob.glob('parts/*.csv'))"], "parts"),
    ("file_pickle", ["import pickle\npickle.dump({'w': [1, 2]}, open('m.pkl', 'wb'))",
                     "import pickle\nmodel = pickle.load(open('m.pkl', 'rb'))"], "model"),
    ("file_csv_append_rows", ["pd.DataFrame({'a': [1]}).to_csv('rows.csv', index=False)",
                              "pd.DataFrame({'a': [2]}).to_csv('rows.csv', mode='a', header=False, index=False)",
                              "rows = pd.read_csv('rows.csv')['a'].tolist()"], "rows"),
    # appenders only: nobody creates the file first, so a step re-run in its run must start from the file
    # as it was before the run, not as its own first attempt left it ('12112' for '12')
    ("file_two_appenders", ["with open('o.txt', 'a') as fh:\n    fh.write('1')", "with open('o.txt', 'a') as fh:\n    fh.write('2')",
                            "o = open('o.txt').read()"], "o"),
    ("file_append_existing", ["with open('seed.txt', 'a') as fh:\n    fh.write('+1')",
                              "with open('seed.txt', 'a') as fh:\n    fh.write('+2')", "seed = open('seed.txt').read()"], "seed",
     {"files": {"seed.txt": "0"}}),
]


def cases() -> list[tuple[str, list, str, str, dict]]:
    """(category, rows)"""
    return [("seeds", SEEDS), ("process", PROCESS), ("shared-code", SHARED_CODE), ("files", FILES)]
