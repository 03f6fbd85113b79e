package provision

import "sync"

// each runs f(0..n-1), workers at a time (default DefaultRetireConcurrency):
// the bounded pool of list and retire, which read and change users
// independently of each other.
func each(n, workers int, f func(i int)) {
	if workers <= 0 {
		workers = DefaultRetireConcurrency
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for i := range jobs {
				f(i)
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
}
