! mlintegrate.f90: Fortran 2003 (ISO_C_BINDING) interface to libmlintegrate (mlintegrate.h).
!
! Arrays: a point set u(d, n) in Fortran order is the row-major n x d array of the C interface.
! Strings passed in must end in c_null_char: mli_open(trim(config) // c_null_char).
! Return codes: MLI_OK = 0, otherwise an error; mli_error_message(h) gives the message
! (h = 0 after a failed mli_open / mli_load).
module mlintegrate
  use, intrinsic :: iso_c_binding
  implicit none
  private
  public :: mli_open, mli_dim, mli_sample, mli_adapt, mli_density, mli_save, mli_load, &
            mli_close, mli_last_error, mli_error_message
  integer(c_int), parameter, public :: MLI_OK = 0, MLI_ERR_CONFIG = 1, MLI_ERR_ARGUMENT = 2, &
      MLI_ERR_HANDLE = 3, MLI_ERR_IO = 4, MLI_ERR_BUSY = 5, MLI_ERR_INTERNAL = 6

  interface
    function mli_open(config_json) bind(C, name="mli_open") result(h)
      import :: c_char, c_int64_t
      character(kind=c_char), dimension(*), intent(in) :: config_json
      integer(c_int64_t) :: h
    end function
    function mli_dim(h, dim_out) bind(C, name="mli_dim") result(rc)
      import :: c_int, c_int64_t
      integer(c_int64_t), value :: h
      integer(c_int), intent(out) :: dim_out
      integer(c_int) :: rc
    end function
    function mli_sample(h, n, u_out, q_out) bind(C, name="mli_sample") result(rc)
      import :: c_int, c_int64_t, c_double
      integer(c_int64_t), value :: h, n
      real(c_double), intent(out) :: u_out(*), q_out(*)
      integer(c_int) :: rc
    end function
    function mli_adapt(h, n, u, q, f) bind(C, name="mli_adapt") result(rc)
      import :: c_int, c_int64_t, c_double
      integer(c_int64_t), value :: h, n
      real(c_double), intent(in) :: u(*), q(*), f(*)
      integer(c_int) :: rc
    end function
    function mli_density(h, n, u, q_out) bind(C, name="mli_density") result(rc)
      import :: c_int, c_int64_t, c_double
      integer(c_int64_t), value :: h, n
      real(c_double), intent(in) :: u(*)
      real(c_double), intent(out) :: q_out(*)
      integer(c_int) :: rc
    end function
    function mli_save(h, path) bind(C, name="mli_save") result(rc)
      import :: c_int, c_int64_t, c_char
      integer(c_int64_t), value :: h
      character(kind=c_char), dimension(*), intent(in) :: path
      integer(c_int) :: rc
    end function
    function mli_load(path) bind(C, name="mli_load") result(h)
      import :: c_int64_t, c_char
      character(kind=c_char), dimension(*), intent(in) :: path
      integer(c_int64_t) :: h
    end function
    function mli_close(h) bind(C, name="mli_close") result(rc)
      import :: c_int, c_int64_t
      integer(c_int64_t), value :: h
      integer(c_int) :: rc
    end function
    function mli_last_error(h) bind(C, name="mli_last_error") result(message)
      import :: c_int64_t, c_ptr
      integer(c_int64_t), value :: h
      type(c_ptr) :: message
    end function
    function c_strlen(s) bind(C, name="strlen") result(n)
      import :: c_ptr, c_size_t
      type(c_ptr), value :: s
      integer(c_size_t) :: n
    end function
  end interface

contains

  !> mli_last_error(h) as a Fortran string
  function mli_error_message(h) result(message)
    integer(c_int64_t), intent(in) :: h
    character(len=:), allocatable :: message
    type(c_ptr) :: p
    character(kind=c_char), pointer :: chars(:)
    integer :: i, n
    p = mli_last_error(h)
    n = int(c_strlen(p))
    call c_f_pointer(p, chars, [n])
    allocate(character(len=n) :: message)
    do i = 1, n
      message(i:i) = chars(i)
    end do
  end function
end module mlintegrate
