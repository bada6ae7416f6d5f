/* C++ with static libstdc++: exceptions (the unwinder reads the shadow-stack
 * pointer with RDSSPQ), iostreams and locale setup (std::call_once wakes a
 * futex), containers, std::function and smart pointers. */
#include <algorithm>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

static int checked(int x)
{
    if (x > 3)
        throw std::runtime_error("too big: " + std::to_string(x));
    return x * 2;
}

struct Noisy {
    std::string name;
    explicit Noisy(std::string n) : name(std::move(n)) { std::cout << "make " << name << '\n'; }
    ~Noisy() { std::cout << "drop " << name << '\n'; }
};

int main(int argc, char **argv)
{
    std::vector<int> v{5, 3, 9, 1, 7};
    std::sort(v.begin(), v.end());
    for (int x : v)
        std::cout << x << ' ';
    std::cout << '\n';
    std::map<std::string, int> m{{"pear", 3}, {"apple", 1}, {"fig", 2}};
    for (const auto &[k, n] : m)
        std::cout << k << '=' << n << ';';
    std::cout << '\n';
    try {
        Noisy a("outer");
        checked(2);
        Noisy b("inner");
        checked(argc + 6);
        std::cout << "not reached\n";
    } catch (const std::exception &e) {
        std::cout << "caught " << e.what() << '\n';
    }
    try {
        std::vector<int> empty;
        std::cout << empty.at(3);
    } catch (const std::out_of_range &) {
        std::cout << "out_of_range\n";
    }
    std::ostringstream os;
    os << std::fixed << std::setprecision(4) << 3.14159265 << ' ' << std::hex << 48879 << ' '
       << std::scientific << 12345.678;
    std::cout << os.str() << '\n';
    auto p = std::make_shared<std::string>(argv[0] ? "named" : "anonymous");
    std::function<size_t(size_t)> f = [p](size_t a) { return a + p->size(); };
    std::cout << f(10) << ' ' << p.use_count() << '\n';
    static std::once_flag once;
    for (int i = 0; i < 3; i++)
        std::call_once(once, [] { std::cout << "once\n"; });
    std::mutex mu;
    {
        std::lock_guard<std::mutex> g(mu);
        std::cout << "locked\n";
    }
    std::string s;
    for (int i = 0; i < 1000; i++)
        s += std::to_string(i % 10);
    std::cout << s.size() << ' ' << std::count(s.begin(), s.end(), '7') << '\n';
    return 0;
}
