! Train mlintegrate's normalizing flow on e+ e- -> mu+ mu- (photon exchange) from Fortran,
! through the ask/tell loop of libmlintegrate, then estimate sigma +- delta sigma.
!
!   python -m mlintegrate.embed.build build/      (also writes build/mlintegrate.f90)
!   gfortran -O2 -J build -o ee_mumu_flow build/mlintegrate.f90 examples/fortran/ee_mumu_flow.f90 &
!            -L build -lmlintegrate -Wl,-rpath,$PWD/build
!   ./ee_mumu_flow
!
! Phase space as in examples/c/ee_mumu_flow.c: cos(theta) = 2 u1 - 1, phi = 2 pi u2,
! dPhi_2 = dOmega/(32 pi^2), dOmega = 4 pi du; |M|^2 = 2 e^4 (t^2 + u^2)/s^2;
! exact sigma = 4 pi alpha^2/(3 s).
program ee_mumu_flow
  use, intrinsic :: iso_c_binding
  use mlintegrate
  implicit none
  integer, parameter :: dp = c_double, ndim = 2
  integer(c_int64_t), parameter :: n_train = 2000, n_final = 20000
  integer, parameter :: n_iter = 6
  real(dp), parameter :: pi = 3.14159265358979323846_dp, alpha = 1.0_dp / 137.035999084_dp
  real(dp), parameter :: sqrt_s = 91.2_dp, gev2_to_pb = 0.3893793721e9_dp
  character(len=*), parameter :: config = '{"backend": "flow", "dim": 2, "seed": 11, ' // &
      '"settings": {"bins": 8, "hidden": 16, "steps_per_batch": 5, "minibatch": 256}}'
  integer(c_int64_t) :: h
  integer(c_int) :: d
  real(dp), allocatable :: u(:, :), q(:), f(:)
  real(dp) :: w, total, total2, mean, err, exact
  integer :: it, i

  h = mli_open(config // c_null_char)
  if (h == 0) call stop_with('mli_open', 0_c_int64_t)
  call check(mli_dim(h, d), 'mli_dim')
  allocate(u(ndim, n_final), q(n_final), f(n_final))
  do it = 1, n_iter  ! train: ask, evaluate, tell
    call check(mli_sample(h, n_train, u, q), 'mli_sample')
    do i = 1, int(n_train)
      f(i) = integrand(u(:, i))
    end do
    call check(mli_adapt(h, n_train, u, q, f), 'mli_adapt')
  end do
  call check(mli_sample(h, n_final, u, q), 'mli_sample')  ! fresh points for the estimate
  total = 0; total2 = 0
  do i = 1, int(n_final)
    w = integrand(u(:, i)) / q(i)
    total = total + w
    total2 = total2 + w * w
  end do
  mean = total / n_final
  err = sqrt((total2 / n_final - mean**2) / (n_final - 1))
  exact = 4 * pi * alpha**2 / (3 * sqrt_s**2) * gev2_to_pb
  print '(a, i0)', 'dim = ', d
  print '(a, f0.6, a, f0.6, a, f0.6, a)', 'sigma = ', mean, ' +- ', err, ' pb   exact = ', &
      exact, ' pb'
  call check(mli_close(h), 'mli_close')

contains

  real(dp) function integrand(x)
    real(dp), intent(in) :: x(ndim)
    real(dp) :: e, s, e2, cos_t, sin_t, phi, p1(0:3), p3(0:3), p4(0:3), t, uu, me2
    e = sqrt_s / 2; s = sqrt_s**2; e2 = 4 * pi * alpha
    cos_t = 2 * x(1) - 1; sin_t = sqrt(max(0.0_dp, 1 - cos_t**2)); phi = 2 * pi * x(2)
    p1 = [e, 0.0_dp, 0.0_dp, e]
    p3 = [e, e * sin_t * cos(phi), e * sin_t * sin(phi), e * cos_t]
    p4 = [e, -p3(1), -p3(2), -p3(3)]
    t = -2 * mdot(p1, p3); uu = -2 * mdot(p1, p4)
    me2 = 2 * e2**2 * (t**2 + uu**2) / s**2
    integrand = gev2_to_pb / (2 * s) * me2 * (4 * pi / (32 * pi**2))
  end function

  real(dp) function mdot(a, b)
    real(dp), intent(in) :: a(0:3), b(0:3)
    mdot = a(0) * b(0) - a(1) * b(1) - a(2) * b(2) - a(3) * b(3)
  end function

  subroutine check(rc, what)
    integer(c_int), intent(in) :: rc
    character(len=*), intent(in) :: what
    if (rc /= MLI_OK) call stop_with(what, h)
  end subroutine

  subroutine stop_with(what, handle)
    character(len=*), intent(in) :: what
    integer(c_int64_t), intent(in) :: handle
    write (0, '(a, a, a)') what, ' failed: ', mli_error_message(handle)
    error stop 1
  end subroutine
end program ee_mumu_flow
